//! `banjo ban JAIL ADDR`, `unban [JAIL] ADDR`, `unban --all`, `reload [JAIL]`: the commands
//! that change the running daemon's state. They need root or the `[daemon] admin_group`.
use std::path::Path;
use std::process::ExitCode;

use super::exit;
use super::status::{client, finish, left, local, show, usage};
use crate::addr::Target;
use crate::config::BanTime;
use crate::control::protocol::parse_ban_time;
use crate::control::{BannedAddr, Command, Unbanned, UnbannedAll};

#[derive(Debug, clap::Args)]
#[command(after_long_help = exit::TEXT)]
pub struct BanArgs {
    /// The jail to ban it in (its ports, hook and bantime apply).
    pub jail: String,
    /// The address or network, e.g. 192.0.2.7 or 2001:db8::/64.
    pub addr: Target,
    /// How long: 90s, 10m, 1h, 1d12h, 1w, or "permanent"; the jail's bantime when not given.
    #[arg(long, short = 't', value_name = "DURATION", value_parser = parse_ban_time)]
    pub time: Option<BanTime>,
    /// Print the daemon's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(
    after_long_help = exit::TEXT,
    override_usage = "banjo unban [OPTIONS] [JAIL] ADDR\n       banjo unban [OPTIONS] --all"
)]
pub struct UnbanArgs {
    /// The jail to lift the ban in; with ADDR alone, every jail it is banned in.
    #[arg(value_name = "JAIL", conflicts_with = "all")]
    pub first: Option<String>,
    /// The address or network to unban.
    #[arg(value_name = "ADDR")]
    pub second: Option<String>,
    /// Lift every ban in every jail.
    #[arg(long)]
    pub all: bool,
    /// Print the daemon's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = exit::TEXT)]
pub struct ReloadArgs {
    /// Reload only this jail; all of them when not given. Same as SIGHUP: a config that does
    /// not validate is refused and the running one stays.
    pub jail: Option<String>,
    /// Print the daemon's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `banjo ban JAIL ADDR [--time D]`.
pub fn ban(socket: Option<&Path>, args: BanArgs) -> ExitCode {
    let command = Command::Ban {
        jail: args.jail,
        addr: args.addr,
        time: args.time,
    };
    let answer = client(socket).call_as::<BannedAddr>(command);
    let refused = answer.as_ref().ok().and_then(|b| b.refused.clone());
    let code = finish(answer.map(|b| {
        show(args.json, &b, |b| match b.until {
            Some(until) => format!(
                "banned {} in {} for {} (until {})\n",
                b.addr,
                b.jail,
                left(b.left),
                local(until)
            ),
            None => format!("banned {} in {} permanently\n", b.addr, b.jail),
        })
    }));
    match refused {
        // recorded, but not blocked: that is not a success
        Some(why) => {
            eprintln!("banjo: but nftables refused it, so it is NOT blocked: {why} (banjo keeps trying)");
            ExitCode::from(exit::ERROR)
        }
        None => code,
    }
}

/// `banjo unban [JAIL] ADDR`, `banjo unban --all`.
pub fn unban(socket: Option<&Path>, args: UnbanArgs) -> ExitCode {
    let client = client(socket);
    if args.all {
        return finish(client.call_as::<UnbannedAll>(Command::UnbanAll {}).map(|u| {
            show(args.json, &u, |u| {
                format!(
                    "lifted {} ban{}\n",
                    u.unbanned,
                    if u.unbanned == 1 { "" } else { "s" }
                )
            })
        }));
    }
    let (jail, addr) = match (args.first, args.second) {
        (Some(jail), Some(addr)) => (Some(jail), addr),
        (Some(addr), None) => (None, addr),
        _ => return usage("unban needs an address (or --all)"),
    };
    let addr: Target = match addr.parse() {
        Ok(addr) => addr,
        Err(e) => return usage(&e.to_string()),
    };
    finish(
        client
            .call_as::<Unbanned>(Command::Unban { jail, addr })
            .map(|u| {
                show(args.json, &u, |u| {
                    format!("unbanned {} in {}\n", u.addr, u.jails.join(", "))
                })
            }),
    )
}

/// `banjo reload [JAIL]`.
pub fn reload(socket: Option<&Path>, args: ReloadArgs) -> ExitCode {
    let jail = args.jail.clone();
    finish(client(socket).call(Command::Reload { jail }).map(|data| {
        show(args.json, &data, |_| match &args.jail {
            Some(j) => format!("reloaded jail {j}\n"),
            None => "reloaded the config\n".to_string(),
        })
    }))
}
