//! The context every section is validated in: the file's position index
//! (for located errors), the declared host names, and host references
//! resolved against them (`clients` expanded to every client).

use std::path::Path;

use crate::error::Error;
use crate::scenario::locate::{Locator, PosIndex, item};
use crate::scenario::payload::FillerPool;
use crate::scenario::values::ALL_CLIENTS;

pub(super) struct Ctx<'a> {
    pub(super) idx: &'a PosIndex,
    pub(super) file: &'a Path,
    pub(super) brokers: Vec<String>,
    pub(super) clients: Vec<String>,
    /// The bridges' names in the trace (`edge->core`), which expectations
    /// may name as clients, with the protocol each speaks.
    pub(super) bridges: Vec<(String, crate::scenario::model::Protocol)>,
    pub(super) filler: FillerPool,
    /// The names `only_for` and `not_for` accept: `reference`, the shipped
    /// broker profiles, and the profiles the user passed.
    pub(super) targets: Vec<String>,
}

impl Locator for Ctx<'_> {
    fn index(&self) -> &PosIndex {
        self.idx
    }

    fn file(&self) -> &Path {
        self.file
    }
}

impl<'a> Ctx<'a> {
    /// A context for the file at `file`, before any host is declared;
    /// `extra_targets` are the names of profiles the user passed.
    pub(super) fn new(idx: &'a PosIndex, file: &'a Path, extra_targets: &[String]) -> Self {
        let mut targets = vec![crate::profile::REFERENCE.to_string()];
        targets.extend(crate::profile::shipped_names().map(str::to_string));
        for t in extra_targets {
            if !targets.contains(t) {
                targets.push(t.clone());
            }
        }
        Ctx {
            idx,
            file,
            brokers: Vec::new(),
            clients: Vec::new(),
            bridges: Vec::new(),
            filler: FillerPool::default(),
            targets,
        }
    }

    pub(super) fn line(&self, path: &str) -> usize {
        self.idx.value(path).line
    }

    fn is_host(&self, name: &str) -> bool {
        self.brokers.iter().chain(&self.clients).any(|h| h == name)
    }

    fn known_hosts(&self) -> String {
        self.brokers
            .iter()
            .chain(&self.clients)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One host name at `path`, which must exist.
    pub(super) fn host(&self, path: &str, name: &str, place: &str) -> Result<String, Error> {
        if self.is_host(name) {
            Ok(name.to_string())
        } else {
            Err(self.at_value(
                path,
                format!(
                    "unknown host `{name}` in {place}, expected one of {}",
                    self.known_hosts()
                ),
            ))
        }
    }

    /// One entry of a host list: a host, or `clients` for all of them.
    pub(super) fn hosts(&self, path: &str, name: &str, place: &str) -> Result<Vec<String>, Error> {
        if name == ALL_CLIENTS {
            Ok(self.clients.clone())
        } else {
            Ok(vec![self.host(path, name, place)?])
        }
    }

    /// A two-host list, `clients` expanded: every pair of distinct hosts.
    pub(super) fn pairs(
        &self,
        path: &str,
        list: &[String],
        place: &str,
    ) -> Result<Vec<(String, String)>, Error> {
        let [a, b] = list else {
            return Err(self.at_value(
                path,
                format!(
                    "{place} needs two hosts, e.g. `[sensor, broker]`; got {}",
                    list.len()
                ),
            ));
        };
        let left = self.hosts(&item(path, 0), a, place)?;
        let right = self.hosts(&item(path, 1), b, place)?;
        if a == b && a != ALL_CLIENTS {
            return Err(self.at_value(
                path,
                format!("{place} names `{a}` twice; it needs two different hosts"),
            ));
        }
        let out: Vec<(String, String)> = left
            .iter()
            .flat_map(|x| right.iter().map(move |y| (x.clone(), y.clone())))
            .filter(|(x, y)| x != y)
            .collect();
        if out.is_empty() {
            return Err(self.at_value(
                path,
                format!("{place} names no pair of two different hosts"),
            ));
        }
        Ok(out)
    }
}
