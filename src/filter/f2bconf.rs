//! fail2ban .conf
