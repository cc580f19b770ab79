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

use crate::process::ProcessTable;
use crate::supervisor::{Shared, Slot};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Weak;
use std::time::Duration;

/// How often the whole process table is read again, in rounds of one second.
const TREES_EVERY: u64 = 5;

/// Starts the monitor of a supervisor's services.
pub(crate) fn spawn_monitor(slots: Weak<BTreeMap<String, Slot>>, shared: Weak<Shared>) {
    tokio::spawn(async move {
        use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
        let Ok(mut system) = System::new() else {
            return;
        };
        let kind = ProcessRefreshKind::nothing()
            .with_cpu()
            .with_memory()
            .with_exe(UpdateKind::Never);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut trees: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        let mut round = 0u64;
        loop {
            tick.tick().await;
            let Some(slots) = slots.upgrade() else { return };
            let roots: Vec<(String, u32)> = slots
                .iter()
                .filter_map(|(id, s)| s.status.borrow().pid.map(|p| (id.clone(), p)))
                .collect();
            if roots.is_empty() {
                trees.clear();
                continue;
            }
            system.refresh_cpu_usage();
            system.refresh_memory();
            if let Some(shared) = shared.upgrade() {
                *greenroom_core::lock_unpoisoned(&shared.machine) =
                    Some(crate::status::MachineMetrics {
                        cpu_percent: (system.global_cpu_usage() * 10.0).round() / 10.0,
                        memory_used_bytes: system.used_memory(),
                        memory_total_bytes: system.total_memory(),
                    });
            }
            let stale = roots
                .iter()
                .any(|(id, pid)| !trees.get(id).is_some_and(|t| t.contains(pid)));
            if round.is_multiple_of(TREES_EVERY) || stale {
                let table = ProcessTable::read();
                trees = roots
                    .iter()
                    .map(|(id, pid)| (id.clone(), table.descendants(&[*pid])))
                    .collect();
            }
            let pids: Vec<Pid> = trees
                .values()
                .flatten()
                .map(|p| Pid::from_u32(*p))
                .collect();
            system.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
            round += 1;
            for (id, _) in roots {
                let Some(tree) = trees.get(&id) else { continue };
                let (mut cpu, mut memory) = (0f32, 0u64);
                for pid in tree {
                    if let Some(p) = system.process(Pid::from_u32(*pid)) {
                        cpu += p.cpu_usage();
                        memory += p.memory();
                    }
                }
                let cpu = Some((cpu * 10.0).round() / 10.0);
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
