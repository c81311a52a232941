//! The shrinker's bounds: runs and real time. The wall clock is read here
//! only, to stop the search; nothing a run does sees it.

use std::time::{Duration, Instant};

/// Which bound stopped a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Runs,
    WallTime,
}

impl Limit {
    pub fn describe(self) -> &'static str {
        match self {
            Limit::Runs => "run budget",
            Limit::WallTime => "wall-time budget",
        }
    }
}

pub struct Budget {
    runs_max: u32,
    wall_max: Duration,
    started: Instant,
    pub runs: u32,
    /// Set once a bound is hit; the search then stops.
    pub hit: Option<Limit>,
}

impl Budget {
    pub fn new(runs_max: u32, wall_max: Duration) -> Budget {
        Budget {
            runs_max,
            wall_max,
            started: Instant::now(),
            runs: 0,
            hit: None,
        }
    }

    /// Takes one run from the budget, or says which bound is spent.
    pub fn take(&mut self) -> Result<(), Limit> {
        if let Some(l) = self.hit {
            return Err(l);
        }
        let limit = if self.runs >= self.runs_max {
            Some(Limit::Runs)
        } else if self.started.elapsed() >= self.wall_max {
            Some(Limit::WallTime)
        } else {
            None
        };
        match limit {
            Some(l) => {
                self.hit = Some(l);
                Err(l)
            }
            None => {
                self.runs += 1;
                Ok(())
            }
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
