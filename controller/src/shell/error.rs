//! Errors of the live operator, each naming the operation that failed, and the one question
//! every caller asks of a failed request: will it pass on its own ([`is_transient`])?
//!
//! Two enums: [`Error`] is what one reconcile or one fleet pass can run into (it is retried);
//! [`RunError`] is what stops `tenantry run` (configuration, missing CRDs, the HTTP server, a
//! cache whose watch died).

use thiserror::Error;

/// What a reconcile, the fleet-status pass or the lease can run into: one variant per
/// operation, each with the object it concerned and the client's error.
#[derive(Debug, Error)]
pub enum Error {
    /// Server-side apply of a managed child failed.
    #[error("applying {object}: {source}")]
    Apply {
        /// `Kind/name` (and namespace) of the child.
        object: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Deleting a child no longer desired (or a deleted tenant's workload) failed.
    #[error("pruning {object}: {source}")]
    Prune {
        /// `Kind/name` of the child.
        object: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Writing an object's status failed.
    #[error("patching the status of {object}: {source}")]
    StatusPatch {
        /// `Kind name` of the object.
        object: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Adding or removing the `tenantry.dev/cleanup` finalizer failed.
    #[error("updating the finalizer of tenant {tenant}: {source}")]
    Finalizer {
        /// The tenant.
        tenant: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Reading, taking, renewing or releasing the leader Lease failed.
    #[error("{action} lease {lease}: {source}")]
    Lease {
        /// `acquiring or renewing`, `releasing`.
        action: &'static str,
        /// `namespace/name` of the Lease.
        lease: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Any other request: reading or deleting an object outside the apply/prune path.
    #[error("{action}: {source}")]
    Request {
        /// What the operator was doing (`reading namespace tenant-shop`).
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// Any other request that failed, with what was being done.
    pub fn kube(action: impl Into<String>, source: kube::Error) -> Self {
        Error::Request { action: action.into(), source }
    }

    /// The client's error underneath.
    pub fn source_error(&self) -> &kube::Error {
        match self {
            Error::Apply { source, .. }
            | Error::Prune { source, .. }
            | Error::StatusPatch { source, .. }
            | Error::Finalizer { source, .. }
            | Error::Lease { source, .. }
            | Error::Request { source, .. } => source,
        }
    }

    /// Whether retrying is expected to succeed without anyone acting: see [`is_transient`].
    /// A finalizer update is a JSON patch that first tests the finalizers it read, so its
    /// `422` means the tenant changed in between: a conflict, tried again.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Finalizer { source: kube::Error::Api(status), .. } if status.code == 422 => true,
            other => is_transient(other.source_error()),
        }
    }

    /// A short label for metrics: the operation.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Apply { .. } => "apply",
            Error::Prune { .. } => "prune",
            Error::StatusPatch { .. } => "status_patch",
            Error::Finalizer { .. } => "finalizer",
            Error::Lease { .. } => "lease",
            Error::Request { .. } => "request",
        }
    }
}

/// Whether a failed request is expected to pass on its own if it is simply retried.
///
/// Transient, the object should report `Reconciling=True` and be retried, never
/// `Stalled=True` (Flux and kstatus read Stalled as terminal):
/// - the API server or the network did not answer: connection refused or reset, timeouts,
///   a body cut short (every error that is not an API status);
/// - `408`, `409` Conflict (someone wrote first), `410` Gone, `429` TooManyRequests and every
///   `5xx`, which includes an admission webhook that cannot be reached
///   (`500 InternalError: failed calling webhook`);
/// - `404` NotFound: the namespace or the object is being created or deleted; the next
///   attempt sees it settled;
/// - `403` from a namespace that is being terminated, which refuses new objects only until
///   it is gone.
///
/// Permanent, a human must act, so `Stalled=True` is the truth: `400` BadRequest, `401`,
/// `403` Forbidden (RBAC, an exceeded quota, a webhook or policy that denied the object),
/// `405`, `413`, `415` and `422` Invalid.
pub fn is_transient(error: &kube::Error) -> bool {
    match error {
        // A namespace being terminated refuses new objects with 403 for a while only.
        kube::Error::Api(status) if status.code == 403 && status.message.contains("being terminated") => true,
        kube::Error::Api(status) => is_transient_status(status.code),
        // The request or its body never made it: the server, the connection or a timeout.
        kube::Error::HyperError(_)
        | kube::Error::Service(_)
        | kube::Error::ReadEvents(_)
        | kube::Error::HttpError(_)
        | kube::Error::FromUtf8(_)
        | kube::Error::LinesCodecMaxLineLengthExceeded => true,
        // A response we cannot read, a request we cannot build, configuration and TLS:
        // the same attempt fails the same way.
        _ => false,
    }
}

/// [`is_transient`] for an HTTP status code the API server answered with.
pub fn is_transient_status(code: u16) -> bool {
    matches!(code, 404 | 408 | 409 | 410 | 429) || code >= 500
}

/// A metric label for why a request failed, from a handful of values: `forbidden` (403 that
/// is not a namespace being terminated: RBAC, or a policy that denies), `invalid` (422: a
/// validation rule refused the object), `transient` (what [`is_transient`] expects to pass on
/// its own) or `other` (any other refusal, such as 400 or 401).
pub fn reason_label(error: &kube::Error) -> &'static str {
    match error {
        _ if is_transient(error) => "transient",
        kube::Error::Api(status) if status.code == 403 => "forbidden",
        kube::Error::Api(status) if status.code == 422 => "invalid",
        _ => "other",
    }
}

/// What stops `tenantry run`: errors at startup, and a part of the operator that died.
/// Reconcile errors ([`Error`]) never stop it; they are retried.
#[derive(Debug, Error)]
pub enum RunError {
    /// The kubeconfig or in-cluster configuration could not be loaded.
    #[error("cannot configure a Kubernetes client: {0}")]
    Config(String),
    /// The CRDs could not be looked up.
    #[error("cannot look up CRD {crd}: {source}")]
    CrdLookup {
        /// The CRD's name.
        crd: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// The CRDs are not installed.
    #[error(
        "the tenantry CRDs are not installed (missing: {missing}); install them with \
         `tenantry crds | kubectl apply --server-side -f -` or the Helm chart in charts/tenantry"
    )]
    MissingCrds {
        /// Names of the missing CRDs.
        missing: String,
    },
    /// The metrics and health server could not start or failed.
    #[error("cannot serve metrics on {address}: {source}")]
    Serve {
        /// The address.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A watch feeding the caches ended or panicked: the caches no longer follow the cluster.
    #[error("the watch of {kind} stopped: {reason}")]
    WatchEnded {
        /// The kind watched.
        kind: String,
        /// Whether it panicked or ended.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::{is_transient, reason_label, Error};
    use kube::core::Status;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure(message, reason).with_code(code)))
    }

    #[test]
    fn what_passes_on_its_own_is_transient() {
        for (code, reason) in [
            (409, "Conflict"),
            (429, "TooManyRequests"),
            (500, "InternalError"),
            (503, "ServiceUnavailable"),
            (504, "Timeout"),
            (404, "NotFound"),
        ] {
            assert!(is_transient(&api(code, reason, "try again")), "{code} {reason}");
        }
        let webhook_down =
            api(500, "InternalError", "failed calling webhook \"check.example.com\": connection refused");
        assert!(is_transient(&webhook_down));
        let timeout = kube::Error::Service("operation timed out".into());
        assert!(is_transient(&timeout));
    }

    #[test]
    fn what_needs_a_human_is_permanent() {
        for (code, reason, message) in [
            (403, "Forbidden", "deployments.apps is forbidden: User cannot patch resource"),
            (403, "Forbidden", "exceeded quota: tenantry-quota, requested: pods=1"),
            (422, "Invalid", "spec.replicas: Invalid value: -1"),
            (400, "BadRequest", "admission webhook \"check.example.com\" denied the request"),
            (401, "Unauthorized", "Unauthorized"),
        ] {
            assert!(!is_transient(&api(code, reason, message)), "{code} {message}");
        }
    }

    #[test]
    fn every_operation_says_what_failed_and_classifies_its_cause() {
        let error = Error::StatusPatch { object: "Tenant shop".into(), source: api(503, "ServiceUnavailable", "down") };
        assert!(error.to_string().starts_with("patching the status of Tenant shop: "), "{error}");
        assert!(error.is_transient());
        assert_eq!(error.metric_label(), "status_patch");
        let error = Error::Apply { object: "Deployment tenant-shop/orders".into(), source: api(422, "Invalid", "bad") };
        assert!(!error.is_transient());
    }

    #[test]
    fn a_failure_has_one_of_four_reason_labels() {
        let frozen =
            "BillingRecord.tenantry.dev \"shop-2026-10\" is invalid: spec: Invalid value: a Closed record is frozen";
        assert_eq!(reason_label(&api(422, "Invalid", frozen)), "invalid");
        assert_eq!(reason_label(&api(403, "Forbidden", "billingrecords is forbidden: User cannot patch")), "forbidden");
        assert_eq!(reason_label(&api(403, "Forbidden", "namespace tenant-shop is being terminated")), "transient");
        assert_eq!(reason_label(&api(503, "ServiceUnavailable", "down")), "transient");
        assert_eq!(reason_label(&api(429, "TooManyRequests", "slow down")), "transient");
        assert_eq!(reason_label(&kube::Error::Service("connection reset".into())), "transient");
        assert_eq!(reason_label(&api(400, "BadRequest", "denied")), "other");
    }

    #[test]
    fn a_finalizer_patch_whose_test_failed_is_a_conflict() {
        // Seen on a real API server: the finalizer's JSON patch tests the finalizers it read,
        // and a tenant changed in between answers 422 with no cause.
        let refused = api(422, "Invalid", "the server rejected our request due to an error in our request");
        let error = Error::Finalizer { tenant: "cobalt-beauty".into(), source: refused };
        assert!(error.is_transient());
    }
}
