//! Errors of the live operator, each carrying what was being done when it happened.

use thiserror::Error;

/// What can go wrong while running the operator.
#[derive(Debug, Error)]
pub enum Error {
    /// A request to the API server failed.
    #[error("{action}: {source}")]
    Kube {
        /// What the operator was doing.
        action: String,
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
    /// The kubeconfig or in-cluster configuration could not be loaded.
    #[error("cannot configure a Kubernetes client: {0}")]
    Config(String),
    /// The metrics and health server could not start.
    #[error("cannot serve metrics on {address}: {source}")]
    Serve {
        /// The address.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Deleting a tenant waits for its namespace to go; retried until it has.
    #[error("cleanup pending: {0}")]
    CleanupPending(String),
    /// Leadership was lost while reconciling; the process stops so another replica takes over.
    #[error("lost the leader lease {0}")]
    LostLease(String),
}

impl Error {
    /// Wraps a client error with what was being done.
    pub fn kube(action: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube { action: action.into(), source }
    }

    /// A short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "api",
            Error::MissingCrds { .. } => "crds",
            Error::Config(_) => "config",
            Error::Serve { .. } => "serve",
            Error::LostLease(_) => "lease",
            Error::CleanupPending(_) => "cleanup_pending",
        }
    }
}
