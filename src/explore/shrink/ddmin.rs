//! Delta debugging over a list: remove the items a failure does not need.
//!
//! This is the complement half of Zeller's ddmin: try the list without its
//! first half, then without its second; then without each quarter, each
//! eighth, and so on down to single items, and repeat the singles until no
//! single removal keeps the failure. The result is 1-minimal: removing any
//! one item makes the failure go away (or the budget ran out first).

/// What a test of a candidate says: it still fails, it does not, or the
/// budget is spent and the search must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Fails,
    Passes,
    OutOfBudget,
}

/// The smallest sublist of `items` (in their order) that `test` still
/// finds failing, starting from `items`, which is assumed to fail. Stops
/// early, with the smallest list found so far, when `test` says the budget
/// is spent.
pub fn minimise<T: Clone>(items: Vec<T>, test: &mut dyn FnMut(&[T]) -> Verdict) -> Vec<T> {
    let mut items = items;
    let mut chunk = items.len().div_ceil(2);
    while chunk > 0 && !items.is_empty() {
        let mut removed = false;
        let mut start = 0;
        while start < items.len() {
            let end = (start + chunk).min(items.len());
            let candidate: Vec<T> = items[..start]
                .iter()
                .chain(&items[end..])
                .cloned()
                .collect();
            match test(&candidate) {
                Verdict::OutOfBudget => return items,
                // The items after the removed chunk move up to `start`.
                Verdict::Fails => {
                    items = candidate;
                    removed = true;
                }
                Verdict::Passes => start = end,
            }
        }
        if chunk == 1 {
            if !removed {
                break;
            }
        } else {
            chunk = chunk.div_ceil(2).min(items.len().max(1));
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(wanted: &'static [u32]) -> impl FnMut(&[u32]) -> Verdict {
        move |c: &[u32]| {
            if wanted.iter().all(|w| c.contains(w)) {
                Verdict::Fails
            } else {
                Verdict::Passes
            }
        }
    }

    #[test]
    fn keeps_exactly_the_items_the_failure_needs() {
        let out = minimise((0..20).collect(), &mut needs(&[3, 7, 19]));
        assert_eq!(out, vec![3, 7, 19]);
        let out = minimise((0..1).collect(), &mut needs(&[0]));
        assert_eq!(out, vec![0]);
    }

    #[test]
    fn a_failure_that_needs_nothing_shrinks_to_nothing() {
        let out = minimise((0..9).collect(), &mut |_: &[u32]| Verdict::Fails);
        assert!(out.is_empty());
    }

    #[test]
    fn the_result_is_one_minimal_for_an_interacting_predicate() {
        // Fails when the sum reaches 30 and an even number is present:
        // no unique answer, but no single item of the result may go.
        let mut test = |c: &[u32]| {
            if c.iter().sum::<u32>() >= 30 && c.iter().any(|x| x % 2 == 0) {
                Verdict::Fails
            } else {
                Verdict::Passes
            }
        };
        let out = minimise((1..=12).collect(), &mut test);
        assert_eq!(test(&out), Verdict::Fails);
        for i in 0..out.len() {
            let mut less = out.clone();
            less.remove(i);
            assert_eq!(test(&less), Verdict::Passes, "{out:?} without {i}");
        }
    }

    #[test]
    fn a_spent_budget_stops_with_the_best_list_so_far() {
        let mut calls = 0;
        let out = minimise((0..16).collect(), &mut |c: &[u32]| {
            calls += 1;
            if calls > 3 {
                Verdict::OutOfBudget
            } else if c.contains(&5) {
                Verdict::Fails
            } else {
                Verdict::Passes
            }
        });
        // Call 1 drops 0..8 (5 is in it: passes), call 2 drops 8..16
        // (fails): 0..8 is left; call 3 drops 0..4: fails; then stop.
        assert_eq!(out, vec![4, 5, 6, 7]);
        assert_eq!(calls, 4);
    }
}
