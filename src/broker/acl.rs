//! Access control: the broker option `acl`, a list of rules that each deny
//! subscribing or publishing on topics within a filter, for one user or for
//! everyone. Anything no rule denies is allowed.

use super::AclRule;
use crate::topic;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SUBSCRIBE to a filter: denied when the filter lies within a
    /// denied one (`private/x` and `private/#` are within `private/#`).
    Subscribe,
    /// Delivery of a message on a topic to a subscriber: denied when the
    /// topic matches a subscribe-denying rule. This is what keeps `#` from
    /// leaking what `private/#` may not read.
    Read,
    /// PUBLISH to a topic.
    Publish,
}

pub fn allows(rules: &[AclRule], user: Option<&str>, action: Action, topic: &str) -> bool {
    !rules.iter().any(|r| {
        let applies = r.user.is_none() || r.user.as_deref() == user;
        let denies = match action {
            Action::Subscribe | Action::Read => r.subscribe,
            Action::Publish => r.publish,
        };
        // A subscription filter is compared as a topic string: `+` and `#`
        // in it only match a rule's wildcards, so it is within the rule's
        // filter exactly when the rule matches it literally.
        applies && denies && (r.filter == topic || topic::matches(&r.filter, topic))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(user: Option<&str>, subscribe: bool, publish: bool, filter: &str) -> AclRule {
        AclRule {
            user: user.map(str::to_string),
            subscribe,
            publish,
            filter: filter.to_string(),
        }
    }

    #[test]
    fn rules_deny_per_user_and_action() {
        let rules = [
            rule(Some("bob"), true, false, "private/#"),
            rule(None, false, true, "readonly/#"),
        ];
        assert!(!allows(&rules, Some("bob"), Action::Subscribe, "private/x"));
        assert!(!allows(&rules, Some("bob"), Action::Subscribe, "private/#"));
        assert!(!allows(&rules, Some("bob"), Action::Read, "private/x"));
        assert!(allows(&rules, Some("bob"), Action::Subscribe, "#"));
        assert!(allows(&rules, Some("bob"), Action::Publish, "private/x"));
        assert!(allows(
            &rules,
            Some("alice"),
            Action::Subscribe,
            "private/x"
        ));
        assert!(allows(&rules, None, Action::Read, "private/x"));
        assert!(!allows(&rules, None, Action::Publish, "readonly/a"));
        assert!(!allows(&rules, Some("alice"), Action::Publish, "readonly"));
        assert!(allows(
            &rules,
            Some("alice"),
            Action::Subscribe,
            "readonly/a"
        ));
        assert!(allows(&[], Some("x"), Action::Publish, "anything"));
    }
}
