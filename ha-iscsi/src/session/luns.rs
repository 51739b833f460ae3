//! Which LUNs each initiator sees: each target's LUNs, node ACLs' LUN
//! mappings, and demo mode's write protection (targetcli's model).

use std::collections::HashMap;

use crate::scsi::LogicalUnit;

/// One node ACL mapping: the LUN the initiator sees, the target's LUN
/// behind it, write-protected or not.
type Mapping = (u64, u64, bool);

/// The LUNs of a portal's targets and who sees which.
#[derive(Debug, Clone, Default)]
pub struct LunMap {
    /// Each target's LUNs, by target index.
    luns: HashMap<usize, Vec<(u64, LogicalUnit)>>,
    /// Node ACLs' LUN mappings, by target index and initiator name.
    acls: HashMap<(usize, String), Vec<Mapping>>,
    /// Targets (by index) whose LUNs are write-protected for initiators
    /// without mappings of their own (targetcli's
    /// `demo_mode_write_protect`).
    demo_write_protect: Vec<usize>,
}

impl LunMap {
    /// Maps `unit` as LUN `lun` of the target at index `target`.
    pub fn map_lun(&mut self, target: usize, lun: u64, unit: LogicalUnit) {
        let list = self.luns.entry(target).or_default();
        list.retain(|(n, _)| *n != lun);
        list.push((lun, unit));
        list.sort_by_key(|(n, _)| *n);
    }

    /// Maps LUN `tpg_lun` of target `target` as LUN `mapped` for
    /// `initiator` only, write-protected if `read_only`.
    pub fn map_acl_lun(
        &mut self,
        target: usize,
        initiator: &str,
        mapped: u64,
        tpg_lun: u64,
        read_only: bool,
    ) {
        let list = self.acls.entry((target, initiator.to_owned())).or_default();
        list.retain(|(m, ..)| *m != mapped);
        list.push((mapped, tpg_lun, read_only));
        list.sort_by_key(|(m, ..)| *m);
    }

    /// Write-protects target `target`'s LUNs for initiators without
    /// mappings of their own.
    pub fn set_demo_write_protect(&mut self, target: usize, on: bool) {
        self.demo_write_protect.retain(|t| *t != target);
        if on {
            self.demo_write_protect.push(target);
        }
    }

    /// The LUNs `initiator` sees on target `target`: its ACL's mappings,
    /// or every LUN of the target if it has none.
    pub fn visible(&self, target: usize, initiator: &str) -> Vec<(u64, LogicalUnit)> {
        let all = self.luns.get(&target).map(Vec::as_slice).unwrap_or(&[]);
        match self.acls.get(&(target, initiator.to_owned())) {
            None if self.demo_write_protect.contains(&target) => all
                .iter()
                .map(|(n, u)| (*n, u.clone().read_only(true)))
                .collect(),
            None => all.to_vec(),
            Some(mappings) => mappings
                .iter()
                .filter_map(|(mapped, tpg_lun, read_only)| {
                    let (_, unit) = all.iter().find(|(n, _)| n == tpg_lun)?;
                    let unit = if *read_only {
                        unit.clone().read_only(true)
                    } else {
                        unit.clone()
                    };
                    Some((*mapped, unit))
                })
                .collect(),
        }
    }
}
