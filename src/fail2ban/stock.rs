//! The filter files fail2ban ships, by MD5 (the digest dpkg records for a conffile), so that an
//! untouched stock file is told apart from the admin's own: a stock filter is replaced by
//! banjo's built-in of the same name, the admin's own is carried as it is.
//!
//! The table holds Debian 12's fail2ban 1.0.2-2 (`filter.d/`); on a host where fail2ban is
//! installed, dpkg's own record of its conffiles (asked of `dpkg-query`) covers any version.

use std::collections::BTreeSet;

use md5::{Digest, Md5};

/// (path under /etc/fail2ban, MD5 as hex) of every filter.d file of Debian's fail2ban 1.0.2-2.
const DEBIAN_1_0_2: &[(&str, &str)] = &[
    ("filter.d/3proxy.conf", "285af6d118ea5345dfb1af26d010f959"),
    ("filter.d/apache-auth.conf", "a275d59c663823bfa6710a0c6b0c1003"),
    ("filter.d/apache-badbots.conf", "58eddea83654cffdb7307ecceb6d3a01"),
    (
        "filter.d/apache-botsearch.conf",
        "bd2f44554a3aaa679b10368ac2ad38fc",
    ),
    ("filter.d/apache-common.conf", "87411bcffc9e7f0301a1651f91221788"),
    (
        "filter.d/apache-fakegooglebot.conf",
        "4a2e2570425468f2865b7ba4625c4f19",
    ),
    (
        "filter.d/apache-modsecurity.conf",
        "9ef1dd9655938c9e4cb37dbfd279d07f",
    ),
    ("filter.d/apache-nohome.conf", "787fae6f13398d03ba5aada47c0b38ec"),
    (
        "filter.d/apache-noscript.conf",
        "817a490ac92fe807c49622862a966297",
    ),
    (
        "filter.d/apache-overflows.conf",
        "bebdf7a6dffa89a2ed72ebbbe038f24d",
    ),
    ("filter.d/apache-pass.conf", "9deffde7a16b5e7142346d9036744919"),
    (
        "filter.d/apache-shellshock.conf",
        "98aa308017f01860be6b902415b4dd5d",
    ),
    ("filter.d/assp.conf", "cb9d20e55823cff862c7668e2c5831de"),
    ("filter.d/asterisk.conf", "4d5211ab617c9e242902f7ff2b27655c"),
    ("filter.d/bitwarden.conf", "201427cd10aed27592961a55d25fd04f"),
    (
        "filter.d/botsearch-common.conf",
        "b546f05992f9b7c1db26b9f55c6f2c32",
    ),
    ("filter.d/centreon.conf", "289377d5904d0e9eae6f4d56b789a2b3"),
    ("filter.d/common.conf", "dc920231e137cf3df35a0ac68ddd97e1"),
    ("filter.d/counter-strike.conf", "6d9714efbfdcaa4e0f03de96397d05b1"),
    ("filter.d/courier-auth.conf", "1b943215d828916934a48da6a9cd9371"),
    ("filter.d/courier-smtp.conf", "925056ec18ab654d3906538ad3eac17c"),
    ("filter.d/cyrus-imap.conf", "738d29a562415f920b1dca0fb78f6c7c"),
    ("filter.d/directadmin.conf", "834a2111b12b4562b5ccf8b7a31fa1f7"),
    ("filter.d/domino-smtp.conf", "eb0578ff73a1bf499c333cc103381816"),
    ("filter.d/dovecot.conf", "be78d2a9282954dacb60a0b05edba148"),
    ("filter.d/dropbear.conf", "e0c30a472e752b9e848123ac918d4aff"),
    ("filter.d/drupal-auth.conf", "bae517e107e7326eb2cf5f3510260dab"),
    ("filter.d/ejabberd-auth.conf", "7c27adb260f232d7d1913db9ded13aa3"),
    ("filter.d/exim-common.conf", "fc7208a8a6dc5ae884f1d12f1c4eed88"),
    ("filter.d/exim-spam.conf", "1632006b4443aa764ca5b04bfbfa1e18"),
    ("filter.d/exim.conf", "f3cc931a64589b951d5d50c2f0e4260e"),
    ("filter.d/freeswitch.conf", "c21930674fd26658abf7a574414a9e6f"),
    ("filter.d/froxlor-auth.conf", "016e28f7d6ef65214b2c55f6fabbecbf"),
    ("filter.d/gitlab.conf", "0fadcd1acf567d68e852e8f7099e6f3d"),
    ("filter.d/grafana.conf", "ac30cf9bb1866225b4d5f07f9e572ed0"),
    ("filter.d/groupoffice.conf", "b7cbbcf7013c493834efa3ce81216f7c"),
    ("filter.d/gssftpd.conf", "468f015e1687e621e351ba8e13135f27"),
    ("filter.d/guacamole.conf", "bfe68ff09e924ace4ac64a050674b383"),
    (
        "filter.d/haproxy-http-auth.conf",
        "e1868882271e38006b94f6be8de8c1c0",
    ),
    ("filter.d/horde.conf", "0bcee5c60b5e0714cdbe8d12c17d03cf"),
    ("filter.d/kerio.conf", "f8531dca3006ddcc5145ca5353a92fcd"),
    ("filter.d/lighttpd-auth.conf", "793700e5abe99253b6516d873e89179e"),
    ("filter.d/mongodb-auth.conf", "68aebabbab4b51573230acf7975a0cbc"),
    ("filter.d/monit.conf", "7d5719a524d02682e4c118aada845882"),
    ("filter.d/monitorix.conf", "8d29867c4c6d5affa5b22a1769072828"),
    ("filter.d/mssql-auth.conf", "e421f1e26f9f2889ebf6f265855d99e5"),
    ("filter.d/murmur.conf", "a66bd6390be2e81355b6d3c7a76c00aa"),
    ("filter.d/mysqld-auth.conf", "67cabde0313ca3bdcc0965e34140595f"),
    ("filter.d/nagios.conf", "2f38bc0aee9c787baceb1af97ab98867"),
    ("filter.d/named-refused.conf", "d63435a371eaf87562e21279d814db49"),
    (
        "filter.d/nginx-bad-request.conf",
        "2eb2f46eb09125ddb667628dea2606e8",
    ),
    (
        "filter.d/nginx-botsearch.conf",
        "25592d31f5a417d7e8cb4a4a41fc079a",
    ),
    (
        "filter.d/nginx-http-auth.conf",
        "a6be4279cdba2bbc1e7ceaee76c4c50e",
    ),
    (
        "filter.d/nginx-limit-req.conf",
        "d7d780d0d0e5e77a5b23afd121fbdb5b",
    ),
    ("filter.d/nsd.conf", "6d47def897a25346178174300bb575c4"),
    ("filter.d/openhab.conf", "6b6aac610352fc1ec1b2e3ecd13cd1f7"),
    ("filter.d/openwebmail.conf", "6a27aa31db87833bd5456df7e01ff173"),
    ("filter.d/oracleims.conf", "6ce2854b4c90888de9562bc44adbdff7"),
    ("filter.d/pam-generic.conf", "73052198258e96bdd24ab830d7730366"),
    ("filter.d/perdition.conf", "0cc5ea440cf9f71777e01e011a27490f"),
    ("filter.d/php-url-fopen.conf", "f877b5920afc317023cb339f1979a64c"),
    (
        "filter.d/phpmyadmin-syslog.conf",
        "5ac921d41c79916644ef00f709b1742e",
    ),
    ("filter.d/portsentry.conf", "7f642f7fe2b329e69db81023baccbb7f"),
    ("filter.d/postfix.conf", "eb5afba0272f31eb80aa09b6bf22c4ce"),
    ("filter.d/proftpd.conf", "40f14bbcf14654ff52f4c0b7b4f3a19c"),
    ("filter.d/pure-ftpd.conf", "b0770ea94f0f3c41a9a75a7b8a4459a3"),
    ("filter.d/qmail.conf", "fb1af4aca05230c58e61dbc8c31e458d"),
    ("filter.d/recidive.conf", "190ab18db96f9093de2210cc52d2a41d"),
    ("filter.d/roundcube-auth.conf", "466e17c074d6578dd7fad7b8c712ec96"),
    ("filter.d/scanlogd.conf", "df062c3a1fe7aeba8f45d7a1ac1d2896"),
    ("filter.d/screensharingd.conf", "7f9c1fe844dabf6ff53cb8425557f7cb"),
    ("filter.d/selinux-common.conf", "f006a8a410652b953e62e4c2b7c9fd90"),
    ("filter.d/selinux-ssh.conf", "a86b87975e0fd4b09a185b724bc6063d"),
    ("filter.d/sendmail-auth.conf", "a6f19e0257c8ee5b46fabf293b1bdb2c"),
    (
        "filter.d/sendmail-reject.conf",
        "97b7c7df1b2667e0b6f66df0c749bea9",
    ),
    ("filter.d/sieve.conf", "a8a6805d10f038fd0e1c6f2db2ca7fd5"),
    ("filter.d/slapd.conf", "85398477ff48b6d9e3b9269aedb95897"),
    ("filter.d/softethervpn.conf", "8225375dba20c27db3d934dddececad9"),
    ("filter.d/sogo-auth.conf", "3768d14930758b94a24acee5b6ffd648"),
    ("filter.d/solid-pop3d.conf", "59c995616b30851d11e85e5cd6e95560"),
    ("filter.d/squid.conf", "875aa604802ae7f7bdb64de61320cd66"),
    ("filter.d/squirrelmail.conf", "a9938cce23d5a410c8311db514cca2fb"),
    ("filter.d/sshd.conf", "32dc68cfa862e945dc0f10eb065de70b"),
    ("filter.d/stunnel.conf", "0bca290a15f504a8fc7d265768919d53"),
    ("filter.d/suhosin.conf", "f5d0fbb7951c89478f5136d4ea0da228"),
    ("filter.d/tine20.conf", "f625d4a177c7e900e5d5561b5f12b4be"),
    ("filter.d/traefik-auth.conf", "51e6bed25c5fc73f1c3c3ec29b89bd49"),
    ("filter.d/uwimap-auth.conf", "f8f8fb6ed7216c55e5843c590ede5abf"),
    ("filter.d/vsftpd.conf", "b5251ece30d8137d6e574eb74df2458d"),
    ("filter.d/webmin-auth.conf", "1ddf0787de3fdf6d5452c56b0f047c19"),
    ("filter.d/wuftpd.conf", "fbf0107c53f138e8c5ce18f0e9b08b4c"),
    ("filter.d/xinetd-fail.conf", "189f8c5f2b9a144e976c5e4b5164fbe1"),
    ("filter.d/znc-adminlog.conf", "0588e29e97cf1f9dbe68adb50c73f859"),
    ("filter.d/zoneminder.conf", "70f7fde5c01f2e770fc174708fd5c266"),
];

/// Which (path, digest) pairs are fail2ban's own files.
#[derive(Debug, Clone, Default)]
pub struct Stock {
    known: BTreeSet<(String, String)>,
}

impl Stock {
    /// The built-in table only.
    pub fn builtin() -> Stock {
        let mut stock = Stock::default();
        for (path, md5) in DEBIAN_1_0_2 {
            stock.known.insert((path.to_string(), md5.to_string()));
        }
        stock
    }

    /// Adds the fail2ban package's conffiles as dpkg recorded them: the output of
    /// `dpkg-query --show --showformat='${Conffiles}' fail2ban`, one ` PATH MD5` line each
    /// (dpkg may add a word such as `obsolete`).
    pub fn with_conffiles(mut self, conffiles: &str) -> Stock {
        for line in conffiles.lines() {
            let mut words = line.split_whitespace();
            let (Some(path), Some(md5)) = (words.next(), words.next()) else {
                continue;
            };
            if let Some(rel) = path.strip_prefix("/etc/fail2ban/") {
                self.known.insert((rel.to_string(), md5.to_string()));
            }
        }
        self
    }

    /// Whether `text` is fail2ban's own file `rel` (a path under the fail2ban directory).
    pub fn is_stock(&self, rel: &str, text: &str) -> bool {
        let digest = Md5::digest(text.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.known.contains(&(rel.to_string(), hex))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_conffiles_of_fail2ban_are_added() {
        let conffiles = " /etc/fail2ban/filter.d/y.conf 900150983cd24fb0d6963f7d28e17f72\n \
                         /etc/fail2ban/filter.d/old.conf 900150983cd24fb0d6963f7d28e17f72 obsolete\n \
                         /etc/logrotate.d/fail2ban 900150983cd24fb0d6963f7d28e17f72\n";
        let stock = Stock::default().with_conffiles(conffiles);
        // 900150983cd24fb0d6963f7d28e17f72 is MD5("abc")
        assert!(stock.is_stock("filter.d/y.conf", "abc"));
        assert!(stock.is_stock("filter.d/old.conf", "abc"));
        assert!(!stock.is_stock("filter.d/y.conf", "abcd"));
        assert!(!stock.is_stock("filter.d/x.conf", "abc"));
    }

    /// The table against the files of Debian's package, when a test run has them unpacked.
    #[test]
    fn table_matches_debians_package_when_unpacked() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fail2ban-deb/root/etc/fail2ban");
        if !dir.is_dir() {
            return;
        }
        let stock = Stock::builtin();
        for (path, _) in DEBIAN_1_0_2 {
            let text = std::fs::read_to_string(dir.join(path)).unwrap();
            assert!(stock.is_stock(path, &text), "{path}");
        }
    }
}
