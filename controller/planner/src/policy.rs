//! Which GovernancePolicies apply to a tenant, and what they add up to when several do: the
//! strictest wins. Approval rules and change freezes add up; allowed regions, image
//! registries and AI models intersect (what is asked must be allowed by every policy that
//! restricts it); the highest human-review threshold wins; escalation contacts and RBAC
//! grants add up; the longest audit retention wins.

use crate::freeze;
use crate::model::Index;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kube_core::ResourceExt;
use std::collections::{BTreeMap, BTreeSet};
use tenantry_api::governance::{ApprovalRule, ChangeFreeze, Subject, SubjectKind, TenantRole};
use tenantry_api::{Approver, GovernancePolicy, Tenant, WorkflowCategory};

/// Whether `labels` satisfy `selector`, as the API server evaluates label selectors. An
/// operator outside In, NotIn, Exists and DoesNotExist is an error naming it.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    for (key, value) in selector.match_labels.iter().flatten() {
        if labels.get(key) != Some(value) {
            return Ok(false);
        }
    }
    for LabelSelectorRequirement { key, operator, values } in selector.match_expressions.iter().flatten() {
        let present = labels.get(key);
        let values = values.as_deref().unwrap_or_default();
        let matched = match operator.as_str() {
            "In" => present.map(|v| values.contains(v)).unwrap_or(false),
            "NotIn" => present.map(|v| !values.contains(v)).unwrap_or(true),
            "Exists" => present.is_some(),
            "DoesNotExist" => present.is_none(),
            other => return Err(format!("operator '{other}' is not one of In, NotIn, Exists, DoesNotExist")),
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `policy` selects `tenant`: same partner when it names one, and labels matching its
/// selector (an absent selector selects every tenant). A selector that cannot be evaluated is
/// an error; the policy's status reports it and it selects nothing.
pub fn selects(policy: &GovernancePolicy, tenant: &Tenant) -> Result<bool, String> {
    if policy.spec.partner_ref.as_ref().is_some_and(|partner| partner != &tenant.spec.partner_ref) {
        return Ok(false);
    }
    match &policy.spec.tenant_selector {
        None => Ok(true),
        Some(selector) => selector_matches(selector, tenant.labels()),
    }
}

/// What the policies that apply to one tenant add up to. Each restriction keeps the name of
/// the policy it comes from, so every decision can say which policy made it.
#[derive(Debug, Default)]
pub struct Governance<'a> {
    /// Names of the policies that apply, sorted.
    pub policies: Vec<&'a str>,
    /// Every approval rule of every policy, with its policy.
    pub approval_rules: Vec<(&'a str, &'a ApprovalRule)>,
    /// Every valid change freeze of every policy, with its policy (an invalid one is reported
    /// on its policy and holds nothing).
    pub freezes: Vec<(&'a str, &'a ChangeFreeze)>,
    /// Per restricting policy, the regions it allows.
    pub allowed_regions: Vec<(&'a str, &'a [String])>,
    /// Per restricting policy, the registries (host and path prefix) it allows.
    pub allowed_registries: Vec<(&'a str, &'a [String])>,
    /// Per restricting policy, the AI models it allows.
    pub allowed_models: Vec<(&'a str, &'a [String])>,
    /// The strictest (highest) human-review threshold, in percent, and its policy.
    pub review_below_percent: Option<(i32, &'a str)>,
    /// Escalation contacts of every policy, sorted and without duplicates.
    pub escalation_contacts: Vec<String>,
    /// Subjects of every RBAC grant, by role, without duplicates.
    pub grants: BTreeMap<TenantRole, Vec<Subject>>,
    /// The longest audit retention asked for, in days.
    pub retention_days: Option<i32>,
}

/// A restriction that refuses what was asked, and the policies that refuse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The refusing policies, by name.
    pub policies: Vec<String>,
    /// Why, naming the field and what is allowed.
    pub message: String,
}

/// The governance of `tenant`: every policy of `index` that selects it, combined.
pub fn for_tenant<'a>(index: &Index<'a>, tenant: &Tenant) -> Governance<'a> {
    let mut governance = Governance::default();
    for policy in index.policies.values().copied() {
        if selects(policy, tenant) != Ok(true) {
            continue;
        }
        let name = policy.metadata.name.as_deref().unwrap_or_default();
        let spec = &policy.spec;
        governance.policies.push(name);
        governance.approval_rules.extend(spec.approvals.iter().map(|rule| (name, rule)));
        governance
            .freezes
            .extend(spec.change_freezes.iter().filter(|f| freeze::validate(f).is_ok()).map(|f| (name, f)));
        if !spec.allowed_regions.is_empty() {
            governance.allowed_regions.push((name, &spec.allowed_regions));
        }
        if !spec.allowed_image_registries.is_empty() {
            governance.allowed_registries.push((name, &spec.allowed_image_registries));
        }
        if let Some(ai) = &spec.ai {
            if !ai.allowed_models.is_empty() {
                governance.allowed_models.push((name, &ai.allowed_models));
            }
            if let Some(threshold) = ai.human_review_below_percent {
                if governance.review_below_percent.is_none_or(|(strictest, _)| threshold > strictest) {
                    governance.review_below_percent = Some((threshold, name));
                }
            }
        }
        governance.escalation_contacts.extend(spec.escalation.iter().flat_map(|e| e.contacts.iter().cloned()));
        for grant in &spec.rbac {
            let subjects = governance.grants.entry(grant.role).or_default();
            for subject in &grant.subjects {
                if !subjects.contains(subject) {
                    subjects.push(subject.clone());
                }
            }
        }
        if let Some(audit) = &spec.audit {
            governance.retention_days = governance.retention_days.max(Some(audit.retention_days));
        }
    }
    governance.escalation_contacts.sort();
    governance.escalation_contacts.dedup();
    governance
}

impl Governance<'_> {
    /// Why `region` may not host workloads, when a policy restricts regions and leaves it out.
    pub fn region_refusal(&self, region: &str) -> Option<Refusal> {
        refuse(
            &self.allowed_regions,
            |allowed| allowed.iter().any(|r| r == region),
            |policy, allowed| {
                format!("spec.region '{region}' is not allowed by policy '{policy}' (allowed: {})", allowed.join(", "))
            },
        )
    }

    /// Why `image` may not run, when a policy restricts registries and none of its entries
    /// is a prefix of the image's registry host and path.
    pub fn image_refusal(&self, image: &str) -> Option<Refusal> {
        let path = image_path(image);
        refuse(
            &self.allowed_registries,
            |allowed| allowed.iter().any(|entry| registry_allows(entry, &path)),
            |policy, allowed| {
                format!(
                    "spec.runner.image '{image}' is from no registry policy '{policy}' allows (allowed: {})",
                    allowed.join(", ")
                )
            },
        )
    }

    /// Why an AI step may not use `model`, when a policy restricts models and leaves it out
    /// (or no model is named).
    pub fn model_refusal(&self, model: Option<&str>) -> Option<Refusal> {
        refuse(
            &self.allowed_models,
            |allowed| model.is_some_and(|m| allowed.iter().any(|a| a == m)),
            |policy, allowed| match model {
                Some(model) => format!(
                    "spec.ai.model '{model}' is not allowed by policy '{policy}' (allowed: {})",
                    allowed.join(", ")
                ),
                None => format!("spec.ai.model is required: policy '{policy}' allows only {}", allowed.join(", ")),
            },
        )
    }

    /// The approval rules that cover `category`.
    pub fn rules_for(&self, category: WorkflowCategory) -> Vec<(&str, &ApprovalRule)> {
        self.approval_rules
            .iter()
            .filter(|(_, rule)| rule.categories.is_empty() || rule.categories.contains(&category))
            .map(|(policy, rule)| (*policy, *rule))
            .collect()
    }

    /// Everyone who may approve a workflow of `category`: the approvers of the rules that
    /// cover it and the subjects granted the approver role. They alone may let a change
    /// through a freeze with an emergency approval.
    pub fn may_approve(&self, category: WorkflowCategory, approver: &Approver) -> bool {
        let by_rule = self.rules_for(category).into_iter().flat_map(|(_, rule)| rule.approvers.iter());
        let by_role = self.grants.get(&TenantRole::Approver).into_iter().flatten();
        by_rule.chain(by_role).any(|subject| subject_matches(subject, approver))
    }
}

/// Applies one intersecting restriction: every policy in `lists` must allow what is asked.
fn refuse(
    lists: &[(&str, &[String])],
    allows: impl Fn(&[String]) -> bool,
    explain: impl Fn(&str, &[String]) -> String,
) -> Option<Refusal> {
    let refusing: Vec<&(&str, &[String])> = lists.iter().filter(|(_, allowed)| !allows(allowed)).collect();
    let (first_policy, first_list) = refusing.first()?;
    Some(Refusal {
        policies: refusing.iter().map(|(policy, _)| policy.to_string()).collect(),
        message: explain(first_policy, first_list),
    })
}

/// Whether the approver is `subject`: the same user, a group the approval is given as, or
/// the service account's user name.
pub fn subject_matches(subject: &Subject, approver: &Approver) -> bool {
    match subject.kind {
        SubjectKind::User => approver.user == subject.name,
        SubjectKind::Group => approver.groups.iter().any(|group| group == &subject.name),
        SubjectKind::ServiceAccount => subject
            .namespace
            .as_ref()
            .is_some_and(|namespace| approver.user == format!("system:serviceaccount:{namespace}:{}", subject.name)),
    }
}

/// The registry host and repository path of an image reference, without tag or digest, as
/// path segments; a reference without a registry host is Docker Hub's (`busybox` is
/// `docker.io/library/busybox`).
pub fn image_path(image: &str) -> Vec<String> {
    let without_digest = image.split('@').next().unwrap_or_default();
    let mut segments: Vec<String> = without_digest.split('/').map(str::to_string).collect();
    if let Some(last) = segments.last_mut() {
        if let Some((name, _tag)) = last.split_once(':') {
            *last = name.to_string();
        }
    }
    let first = segments.first().map(String::as_str).unwrap_or_default();
    let has_host = segments.len() > 1 && (first.contains('.') || first.contains(':') || first == "localhost");
    if !has_host {
        if segments.len() == 1 {
            segments.insert(0, "library".to_string());
        }
        segments.insert(0, "docker.io".to_string());
    }
    segments
}

/// Whether an allowed-registry entry (`registry.example.com` or `registry.example.com/team`)
/// is a prefix of the image path, segment by segment: `registry.example.com` allows
/// `registry.example.com/x/y` but not `registry.example.com.evil.io/x`, and
/// `registry.example.com/team` does not allow `registry.example.com/teammate/x`.
pub fn registry_allows(entry: &str, image_path: &[String]) -> bool {
    let entry: Vec<&str> = entry.trim_end_matches('/').split('/').collect();
    entry.len() < image_path.len() && entry.iter().zip(image_path).all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// The distinct users among `approvers` who match one of `subjects`.
pub fn distinct_matching<'a>(subjects: &[Subject], approvers: impl Iterator<Item = &'a Approver>) -> BTreeSet<&'a str> {
    approvers
        .filter(|approver| subjects.iter().any(|subject| subject_matches(subject, approver)))
        .map(|approver| approver.user.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(image: &str) -> Vec<String> {
        image_path(image)
    }

    #[test]
    fn registry_prefixes_match_whole_segments() {
        assert!(registry_allows("registry.example.com", &path("registry.example.com/tenantry/runner:1.2")));
        assert!(registry_allows("registry.example.com/", &path("registry.example.com/runner")));
        assert!(!registry_allows("registry.example.com", &path("registry.example.com.evil.io/tenantry/runner")));
        assert!(registry_allows("registry.example.com/team", &path("registry.example.com/team/runner@sha256:ab")));
        assert!(!registry_allows("registry.example.com/team", &path("registry.example.com/teammate/runner")));
        assert!(!registry_allows("registry.example.com/team", &path("registry.example.com/team")));
        assert!(registry_allows("localhost:5000", &path("localhost:5000/runner:dev")));
        assert!(!registry_allows("localhost", &path("localhost:5000/runner:dev")));
        assert!(registry_allows("docker.io/library", &path("busybox:1.36")));
        assert!(!registry_allows("docker.io/library", &path("someone/busybox")));
        assert!(registry_allows("docker.io/someone", &path("someone/busybox")));
        assert!(registry_allows("Registry.Example.com", &path("registry.example.com/x")));
    }

    #[test]
    fn subjects_match_users_groups_and_service_accounts() {
        let approver = Approver {
            user: "system:serviceaccount:ops:bot".to_string(),
            groups: vec!["finance-approvers".to_string()],
        };
        let subject = |kind, name: &str, namespace: Option<&str>| Subject {
            kind,
            name: name.to_string(),
            namespace: namespace.map(str::to_string),
        };
        assert!(subject_matches(&subject(SubjectKind::Group, "finance-approvers", None), &approver));
        assert!(!subject_matches(&subject(SubjectKind::Group, "auditors", None), &approver));
        assert!(subject_matches(&subject(SubjectKind::ServiceAccount, "bot", Some("ops")), &approver));
        assert!(!subject_matches(&subject(SubjectKind::ServiceAccount, "bot", None), &approver));
        assert!(!subject_matches(&subject(SubjectKind::User, "bot", None), &approver));
        assert!(subject_matches(&subject(SubjectKind::User, "system:serviceaccount:ops:bot", None), &approver));
    }

    #[test]
    fn distinct_approvers_are_counted_once_each() {
        let finance = [Subject { kind: SubjectKind::Group, name: "finance".to_string(), namespace: None }];
        let approver = |user: &str, groups: &[&str]| Approver {
            user: user.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        let approvals = [
            approver("ana", &["finance"]),
            approver("ana", &["finance"]),
            approver("bo", &[]),
            approver("cy", &["finance", "ops"]),
        ];
        let counted = distinct_matching(&finance, approvals.iter());
        assert_eq!(counted.into_iter().collect::<Vec<_>>(), vec!["ana", "cy"]);
    }
}
