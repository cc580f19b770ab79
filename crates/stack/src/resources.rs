//! CPU and memory of every service's process tree, and of the machine, once a second.
//!
//! A service's tree is its process and every process descended from it
//! ([`crate::process::ProcessTable::descendants`]); the process table is read again every
//! 5 s, or at once when a service has a PID that is not in its known tree (a restart), and
//! in between only the PIDs of the known trees are refreshed. A service's CPU is the sum
//! over its tree, in percent of one core (so above 100 on several cores), rounded to 0.1;
//! its memory is the sum of the resident sizes, in bytes. A status changes (and is
//! published) only when a value does. The machine's overall CPU use (0–100) and memory
//! are kept for [`crate::status::StackStatus::machine`]. The monitor ends when the
//! supervisor is dropped, and reads nothing while no service has a process.
//!
//! On Windows the machine's CPU use comes from `GetSystemTimes` ([`MachineCpu`]), not from
//! sysinfo, which reads it through performance counters (PDH): opening them is slow, fails
//! when the counter registry is damaged, and under Wine calls a function Wine lacks
//! (`PdhEnumObjectsW`), which ends the process.

use crate::process::ProcessTable;
use crate::supervisor::{Shared, Slot};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Weak;
use std::time::Duration;

/// How often the whole process table is read again, in rounds of one second.
const TREES_EVERY: u64 = 5;

/// What one round reads: the machine's metrics and each service's (CPU %, memory bytes).
struct Round {
    machine: crate::status::MachineMetrics,
    services: Vec<(String, f32, u64)>,
}

/// The monitor's readings between rounds, moved to a blocking thread for each round:
/// reading `/proc` (or the Windows process list) is file and system work, never done on
/// the async runtime's threads.
struct Reader {
    system: sysinfo::System,
    machine: MachineCpu,
    trees: BTreeMap<String, BTreeSet<u32>>,
    round: u64,
}

impl Reader {
    fn read(&mut self, roots: &[(String, u32)]) -> Round {
        use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, UpdateKind};
        let kind = ProcessRefreshKind::nothing()
            .with_cpu()
            .with_memory()
            .with_exe(UpdateKind::Never);
        let machine_cpu = self.machine.read(&mut self.system);
        self.system.refresh_memory();
        let machine = crate::status::MachineMetrics {
            cpu_percent: (machine_cpu * 10.0).round() / 10.0,
            memory_used_bytes: self.system.used_memory(),
            memory_total_bytes: self.system.total_memory(),
        };
        let stale = roots
            .iter()
            .any(|(id, pid)| !self.trees.get(id).is_some_and(|t| t.contains(pid)));
        if self.round.is_multiple_of(TREES_EVERY) || stale {
            let table = ProcessTable::read();
            self.trees = roots
                .iter()
                .map(|(id, pid)| (id.clone(), table.descendants(&[*pid])))
                .collect();
        }
        let pids: Vec<Pid> = self
            .trees
            .values()
            .flatten()
            .map(|p| Pid::from_u32(*p))
            .collect();
        self.system
            .refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
        self.round += 1;
        let services = roots
            .iter()
            .filter_map(|(id, _)| {
                let tree = self.trees.get(id)?;
                let (mut cpu, mut memory) = (0f32, 0u64);
                for pid in tree {
                    if let Some(p) = self.system.process(Pid::from_u32(*pid)) {
                        cpu += p.cpu_usage();
                        memory += p.memory();
                    }
                }
                Some((id.clone(), (cpu * 10.0).round() / 10.0, memory))
            })
            .collect();
        Round { machine, services }
    }
}

/// Starts the monitor of a supervisor's services.
pub(crate) fn spawn_monitor(slots: Weak<BTreeMap<String, Slot>>, shared: Weak<Shared>) {
    tokio::spawn(async move {
        let Ok(system) = sysinfo::System::new() else {
            return;
        };
        let mut reader = Some(Reader {
            system,
            machine: MachineCpu::default(),
            trees: BTreeMap::new(),
            round: 0,
        });
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let Some(slots) = slots.upgrade() else { return };
            let roots: Vec<(String, u32)> = slots
                .iter()
                .filter_map(|(id, s)| s.status.borrow().pid.map(|p| (id.clone(), p)))
                .collect();
            let Some(mut r) = reader.take() else { return };
            if roots.is_empty() {
                r.trees.clear();
                reader = Some(r);
                continue;
            }
            let Ok((r, round)) = tokio::task::spawn_blocking(move || {
                let mut r = r;
                let round = r.read(&roots);
                (r, round)
            })
            .await
            else {
                return;
            };
            reader = Some(r);
            if let Some(shared) = shared.upgrade() {
                *greenroom_core::lock_unpoisoned(&shared.machine) = Some(round.machine);
            }
            for (id, cpu, memory) in round.services {
                let cpu = Some(cpu);
                slots[&id].status.send_if_modified(|s| {
                    let changed = s.cpu_percent != cpu || s.memory_bytes != Some(memory);
                    s.cpu_percent = cpu;
                    s.memory_bytes = Some(memory);
                    changed
                });
            }
        }
    });
}

/// The machine's CPU use since the previous read, 0–100.
#[derive(Default)]
struct MachineCpu {
    /// Windows: (idle, busy) 100 ns ticks summed over every core, at the previous read.
    #[cfg_attr(not(windows), allow(dead_code))]
    previous: Option<(u64, u64)>,
}

impl MachineCpu {
    #[cfg(not(windows))]
    fn read(&mut self, system: &mut sysinfo::System) -> f32 {
        system.refresh_cpu_usage();
        system.global_cpu_usage()
    }

    #[cfg(windows)]
    fn read(&mut self, _system: &mut sysinfo::System) -> f32 {
        use windows::Win32::Foundation::FILETIME;
        use windows::Win32::System::Threading::GetSystemTimes;
        let (mut idle, mut kernel, mut user) = (
            FILETIME::default(),
            FILETIME::default(),
            FILETIME::default(),
        );
        // SAFETY: three out pointers to owned FILETIMEs.
        if unsafe { GetSystemTimes(Some(&mut idle), Some(&mut kernel), Some(&mut user)) }.is_err() {
            return 0.0;
        }
        let ticks = |t: FILETIME| (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime);
        // Kernel time includes idle time.
        let idle = ticks(idle);
        let busy = (ticks(kernel) + ticks(user)).saturating_sub(idle);
        let usage = self
            .previous
            .map_or(0.0, |previous| cpu_percent(previous, (idle, busy)));
        self.previous = Some((idle, busy));
        usage
    }
}

/// CPU use in percent between two (idle, busy) tick counts; 0 when no time passed.
#[cfg_attr(not(windows), allow(dead_code))]
fn cpu_percent(before: (u64, u64), after: (u64, u64)) -> f32 {
    let idle = after.0.saturating_sub(before.0);
    let busy = after.1.saturating_sub(before.1);
    if idle + busy == 0 {
        0.0
    } else {
        (busy as f64 * 100.0 / (idle + busy) as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::cpu_percent;

    #[test]
    fn cpu_percent_is_busy_over_all_time_between_two_reads() {
        assert_eq!(cpu_percent((100, 100), (175, 125)), 25.0);
        assert_eq!(cpu_percent((0, 0), (0, 50)), 100.0);
        assert_eq!(cpu_percent((10, 10), (10, 10)), 0.0, "no time passed");
        assert_eq!(cpu_percent((50, 50), (40, 40)), 0.0, "a counter went back");
    }
}
