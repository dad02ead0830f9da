//! Who gets a connection slot on the control socket. Decided at accept, from the caller's
//! credentials (SO_PEERCRED), before a byte is read: root has slots nobody else may take,
//! so has the admin group, and every other uid may hold only a few of the shared ones. When
//! the slots a caller may use are full, the connection that has waited longest for its
//! request line (past a short grace) is closed to make room: a client that connects and
//! says nothing cannot keep anyone out, and one that asks at once is never the one closed.
//!
//! Pure bookkeeping (time is given): the server keeps the handles and closes what it is told.

use std::time::{Duration, Instant};

/// Slots only root may use.
pub const ROOT_SLOTS: usize = 8;
/// Slots only members of `[daemon] admin_group` (and root) may use.
pub const ADMIN_SLOTS: usize = 8;
/// Slots anyone may use.
pub const SHARED_SLOTS: usize = 32;
/// Connections one uid other than root may hold at once.
pub const PER_UID: usize = 4;
/// How long a connection may wait for its request line before a newcomer may close it when
/// the slots are full. Clients write their request right after connecting.
pub const IDLE_GRACE: Duration = Duration::from_millis(250);

/// Which slots a connection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    Root,
    Admin,
    Shared,
}

impl Pool {
    fn size(self) -> usize {
        match self {
            Pool::Root => ROOT_SLOTS,
            Pool::Admin => ADMIN_SLOTS,
            Pool::Shared => SHARED_SLOTS,
        }
    }
}

/// Who is connecting, as far as slots are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    /// A member of `[daemon] admin_group`.
    pub admin: bool,
}

impl Caller {
    /// The pools it may use, best first.
    fn pools(self) -> &'static [Pool] {
        if self.uid == 0 {
            &[Pool::Root, Pool::Shared]
        } else if self.admin {
            &[Pool::Admin, Pool::Shared]
        } else {
            &[Pool::Shared]
        }
    }
}

struct Slot<H> {
    id: u64,
    uid: u32,
    pool: Pool,
    since: Instant,
    /// Still waiting for its request line.
    idle: bool,
    handle: H,
}

/// What [`Slots::admit`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission<H> {
    /// Serve it under this id; close `evicted` (an idle connection that made room).
    Admitted { id: u64, evicted: Option<H> },
    /// Answer `busy` with this reason and close.
    Busy(String),
}

/// The connections being served, each with a handle `H` (the server's way to close it).
pub struct Slots<H> {
    next: u64,
    slots: Vec<Slot<H>>,
}

impl<H> Default for Slots<H> {
    fn default() -> Slots<H> {
        Slots {
            next: 0,
            slots: Vec::new(),
        }
    }
}

impl<H> Slots<H> {
    /// Gives `caller` a slot at `now`, making room by evicting an idle connection if needed.
    pub fn admit(&mut self, caller: Caller, handle: H, now: Instant) -> Admission<H> {
        let mut evicted = None;
        if caller.uid != 0 && self.of_uid(caller.uid) >= PER_UID {
            // its own oldest idle connection makes room, or it waits its turn
            match self.oldest_idle(now, |s| s.uid == caller.uid) {
                Some(i) => evicted = Some(self.slots.swap_remove(i)),
                None => {
                    return Admission::Busy(format!(
                        "uid {} has {PER_UID} control connections open already: try again",
                        caller.uid
                    ));
                }
            }
        }
        let pool = match evicted.as_ref() {
            Some(slot) => slot.pool,
            None => match caller.pools().iter().find(|p| self.in_pool(**p) < p.size()) {
                Some(pool) => *pool,
                None => {
                    let pools = caller.pools();
                    let Some(i) = self.oldest_idle(now, |s| pools.contains(&s.pool)) else {
                        return Admission::Busy(format!(
                            "banjo is serving {} control connections already: try again",
                            self.slots.len()
                        ));
                    };
                    let slot = self.slots.swap_remove(i);
                    let pool = slot.pool;
                    evicted = Some(slot);
                    pool
                }
            },
        };
        let id = self.next;
        self.next += 1;
        self.slots.push(Slot {
            id,
            uid: caller.uid,
            pool,
            since: now,
            idle: true,
            handle,
        });
        Admission::Admitted {
            id,
            evicted: evicted.map(|s| s.handle),
        }
    }

    /// Connection `id` has read its request: no longer idle, so never evicted.
    pub fn working(&mut self, id: u64) {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.id == id) {
            slot.idle = false;
        }
    }

    /// Connection `id` is done (or was evicted already: then nothing happens).
    pub fn release(&mut self, id: u64) {
        if let Some(i) = self.slots.iter().position(|s| s.id == id) {
            self.slots.swap_remove(i);
        }
    }

    /// Connections being served.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn of_uid(&self, uid: u32) -> usize {
        self.slots.iter().filter(|s| s.uid == uid).count()
    }

    fn in_pool(&self, pool: Pool) -> usize {
        self.slots.iter().filter(|s| s.pool == pool).count()
    }

    /// The slot that has waited longest for its request, past the grace, among `which`.
    fn oldest_idle(&self, now: Instant, which: impl Fn(&Slot<H>) -> bool) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.idle && now.saturating_duration_since(s.since) >= IDLE_GRACE && which(s))
            .min_by_key(|(_, s)| s.since)
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOBODY: Caller = Caller {
        uid: 65534,
        admin: false,
    };
    const ROOT: Caller = Caller { uid: 0, admin: false };
    const ADMIN: Caller = Caller {
        uid: 1000,
        admin: true,
    };

    fn id(a: Admission<u32>) -> u64 {
        match a {
            Admission::Admitted { id, evicted: None } => id,
            other => panic!("expected a free slot, got {other:?}"),
        }
    }

    #[test]
    fn one_uid_holds_a_few_slots_and_its_idle_ones_make_room_for_its_own() {
        let mut slots = Slots::default();
        let t0 = Instant::now();
        for n in 0..PER_UID as u32 {
            id(slots.admit(NOBODY, n, t0));
        }
        assert!(matches!(slots.admit(NOBODY, 99, t0), Admission::Busy(m) if m.contains("uid 65534")));
        let later = t0 + IDLE_GRACE;
        match slots.admit(NOBODY, 100, later) {
            Admission::Admitted { evicted: Some(0), .. } => {}
            other => panic!("the oldest idle one goes: {other:?}"),
        }
        assert_eq!(slots.len(), PER_UID);
    }

    #[test]
    fn root_and_admins_keep_their_slots_whatever_others_hold() {
        let mut slots = Slots::default();
        let t0 = Instant::now();
        for uid in 0..(SHARED_SLOTS / PER_UID) as u32 {
            for _ in 0..PER_UID {
                id(slots.admit(
                    Caller {
                        uid: 2000 + uid,
                        admin: false,
                    },
                    uid,
                    t0,
                ));
            }
        }
        assert!(matches!(
            slots.admit(
                Caller {
                    uid: 3000,
                    admin: false
                },
                0,
                t0
            ),
            Admission::Busy(_)
        ));
        for _ in 0..ROOT_SLOTS {
            id(slots.admit(ROOT, 0, t0));
        }
        for _ in 0..ADMIN_SLOTS / 2 {
            id(slots.admit(ADMIN, 0, t0));
            id(slots.admit(
                Caller {
                    uid: 1001,
                    admin: true,
                },
                0,
                t0,
            ));
        }
    }

    #[test]
    fn when_full_the_longest_idle_connection_goes_never_a_working_one() {
        let mut slots = Slots::default();
        let t0 = Instant::now();
        let mut ids = Vec::new();
        for n in 0..SHARED_SLOTS as u32 {
            ids.push(id(slots.admit(
                Caller {
                    uid: 5000 + n,
                    admin: false,
                },
                n,
                t0 + Duration::from_millis(n.into()),
            )));
        }
        // within the grace nobody is evicted
        let soon = t0 + Duration::from_millis(100);
        assert!(matches!(slots.admit(NOBODY, 99, soon), Admission::Busy(_)));
        // the first two have sent their request: the third is the longest idle
        slots.working(ids[0]);
        slots.working(ids[1]);
        let later = t0 + Duration::from_secs(1);
        match slots.admit(NOBODY, 99, later) {
            Admission::Admitted { evicted: Some(2), .. } => {}
            other => panic!("{other:?}"),
        }
        // a slot given back is free again, an evicted one's release changes nothing
        slots.release(ids[2]);
        assert_eq!(slots.len(), SHARED_SLOTS);
        slots.release(ids[3]);
        assert_eq!(slots.len(), SHARED_SLOTS - 1);
        id(slots.admit(
            Caller {
                uid: 7000,
                admin: false,
            },
            7,
            later,
        ));
    }

    #[test]
    fn root_beyond_its_own_slots_uses_the_shared_ones_and_may_evict_idle_strangers() {
        let mut slots = Slots::default();
        let t0 = Instant::now();
        for n in 0..SHARED_SLOTS as u32 {
            id(slots.admit(
                Caller {
                    uid: 5000 + n,
                    admin: false,
                },
                n,
                t0,
            ));
        }
        for _ in 0..ROOT_SLOTS {
            id(slots.admit(ROOT, 1000, t0));
        }
        let later = t0 + IDLE_GRACE;
        match slots.admit(ROOT, 1001, later) {
            Admission::Admitted { evicted: Some(h), .. } => assert!(h < 1000, "a stranger's: {h}"),
            other => panic!("{other:?}"),
        }
        // a stranger cannot evict root's idle connections in root's own slots
        assert!(matches!(
            slots.admit(Caller { uid: 9000, admin: false }, 0, later + IDLE_GRACE),
            Admission::Admitted { evicted: Some(h), .. } if h < 1000
        ));
    }
}
