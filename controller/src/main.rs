//! The `tenantry` command: generate CRDs, preview a plan from a GitOps directory, run the
//! operator.

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tenantry::commands::{
    self, bill, books, chart, export, report, report_html, report_md, report_prometheus, revenue as income,
};
use tenantry::shell::lease::LeaseSettings;
use tenantry::shell::operator::{self, ControllerOptions, RunOptions};
use tenantry::{crdgen, gate, input, planner, render};

/// tenantry turns partners, service tiers, tenants and workflows into running workloads.
#[derive(Parser)]
#[command(name = "tenantry", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions of every tenantry kind as YAML.
    ///
    /// Example:
    ///   tenantry crds | kubectl apply --server-side -f -
    #[command(verbatim_doc_comment)]
    Crds,
    /// Print a shell completion script.
    ///
    /// Examples:
    ///   tenantry completions bash > /etc/bash_completion.d/tenantry
    ///   tenantry completions zsh > "${fpath[1]}/_tenantry"
    ///   tenantry completions fish > ~/.config/fish/completions/tenantry.fish
    #[command(verbatim_doc_comment)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Show what the operator would do with a directory of manifests, without a cluster.
    ///
    /// Reads every .yaml/.yml file under DIR (all documents in each), plans the fleet at the
    /// given instant and prints a summary per tenant, or the manifests to apply.
    ///
    /// Examples:
    ///   tenantry plan examples/gitops
    ///   tenantry plan examples/gitops -o yaml --at 2026-11-01T00:00:00Z | kubectl apply --dry-run=server -f -
    ///   tenantry plan examples/gitops -o status --fail-on stalled     # a CI gate for pull requests
    ///
    /// Exit codes: 0 planned, 1 invalid input (each error names the file, document and field),
    /// 2 usage error, 3 planned but --fail-on found objects (listed on stderr).
    #[command(verbatim_doc_comment)]
    Plan {
        /// Directory of YAML manifests (a GitOps repository or part of one).
        dir: PathBuf,
        /// Instant to plan at (RFC 3339, such as 2026-11-01T00:00:00Z); defaults to now.
        #[arg(long)]
        at: Option<String>,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
        output: Output,
        /// Exit 3, listing them on stderr, when objects are stalled (only a human can fix them:
        /// held for approval, blocked by a policy or a bad spec) or, with not-ready, not Ready
        /// for any reason but waiting for their workload to run.
        #[arg(long, value_enum, value_name = "WHAT")]
        fail_on: Option<FailOn>,
    },
    /// Run the operator against the cluster of the current kubeconfig or service account.
    ///
    /// Checks that the CRDs are installed, takes the leader lease, then reconciles tenants
    /// and workflows until SIGTERM. Serves /metrics, /healthz and /readyz.
    ///
    /// Examples:
    ///   tenantry run
    ///   tenantry run --partner northbridge-erp --lease-name tenantry-northbridge --log-format json
    #[command(verbatim_doc_comment)]
    Run(RunArgs),
    /// Show what the operator would change in the cluster, like `kubectl diff` (read-only).
    ///
    /// Lists the declared tenantry objects and the managed children of the current
    /// kubeconfig's cluster (list requests only: it never writes), plans every tenant as the
    /// operator would now, and prints each object it would create (+), change or scale down
    /// (~) or delete (-), with a -/+ line per field it sets; then the statuses it would
    /// rewrite (phase, reason, conditions; lastTransitionTime aside).
    ///
    /// Examples:
    ///   tenantry diff
    ///   tenantry diff --partner northbridge-erp -o json
    ///   tenantry diff --dir fleet/      # a pull request's preview: what merging it would change
    ///
    /// Exit codes: 0 no differences, 1 differences, 2 or more an error (usage, or the cluster
    /// could not be read).
    #[command(verbatim_doc_comment)]
    Diff(DiffArgs),
    /// Print one month's closed BillingRecords as invoices, one per tenant.
    ///
    /// Invoices are numbered per partner in tenant-name order under its invoicePrefix
    /// (NB-FLOW-2026-11-0001), with its product name and currency; amounts in minor units and
    /// with the currency's decimals. Reads a directory planned at --at, or the cluster.
    ///
    /// Examples:
    ///   tenantry bill examples/gitops --period 2026-10 --at 2026-11-15T09:00:00Z
    ///   tenantry bill --cluster --period 2026-10 -o json
    ///   tenantry bill --cluster --period 2026-10 --mark-exported > invoices-2026-10.csv
    ///
    /// Exit codes: 0 printed, 1 invalid input, no record or none closed for the month, or the
    /// cluster could not be read or marked, 2 usage error.
    #[command(verbatim_doc_comment)]
    Bill(BillArgs),
    /// Print each partner's recurring revenue month by month: MRR, ARR, movements, accounts,
    /// ARPA, attach rate, NRR, GRR and what was billed, with a chart.
    ///
    /// Examples:
    ///   tenantry revenue examples/gitops --at 2026-11-15T09:00:00Z
    ///   tenantry revenue --cluster --partner northbridge-erp --svg mrr.svg
    ///
    /// Exit codes: 0 printed, 1 invalid input, unknown partner or the cluster could not be
    /// read, 2 usage error.
    #[command(verbatim_doc_comment)]
    Revenue(RevenueArgs),
    /// Print a client's business review for one reporting period, in its partner's brand.
    ///
    /// Workflows and their phases, runs and failures, adoption, service levels and credits,
    /// the bills of the months the period touches and, with --prometheus, throughput and
    /// exceptions per workflow category from the runners' metrics. HTML (one self-contained
    /// page, charts as inline SVG) or Markdown. Periods, in UTC: a month (2026-11), a quarter
    /// (2026-Q4) or an ISO week (2026-W47); the tier's sla.reportingCadence says which the
    /// client is promised. See docs/report.md.
    ///
    /// Examples:
    ///   tenantry report examples/gitops --tenant alpine-supply --period 2026-10 --at 2026-11-15T09:00:00Z > review.html
    ///   tenantry report --cluster --tenant alpine-supply --period 2026-W47 --prometheus http://prometheus.monitoring:9090
    ///   tenantry report --cluster --tenant sierra-health-distribution --period 2026-Q4 -o md
    ///
    /// Exit codes: 0 printed (also when Prometheus could not be read: the review says so and
    /// a warning goes to stderr), 1 invalid input, unknown tenant or partner, or the cluster
    /// could not be read, 2 usage error.
    #[command(verbatim_doc_comment)]
    Report(ReportArgs),
    /// Tools for measuring tenantry at scale (docs/performance.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Write a generated fleet to DIR, one file per object, laid out like examples/gitops.
    ///
    /// Partners with three tiers each, tenants with contracts, labels and a year of tier
    /// history (ending at --at), their workflows, three governance policies selecting subsets,
    /// approvals, and in every thousand tenants one of each problem: an unknown tier, a bad
    /// cron, a disallowed category, an image from a refused registry. The same arguments
    /// write the same files.
    ///
    /// Example:
    ///   tenantry bench generate /tmp/fleet-10k --tenants 10000 --workflows-per-tenant 5 --partners 4 --seed 1
    ///   tenantry plan /tmp/fleet-10k --at 2026-11-15T09:00:00Z -o status > /dev/null
    #[command(verbatim_doc_comment)]
    Generate(GenerateArgs),
}

#[derive(Args)]
struct GenerateArgs {
    /// Directory to write; must be empty or absent.
    dir: PathBuf,
    /// Tenants.
    #[arg(long, default_value_t = 1000)]
    tenants: usize,
    /// Workflows each tenant declares.
    #[arg(long, default_value_t = 5)]
    workflows_per_tenant: usize,
    /// Partners (each with three tiers).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    partners: u16,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// End of the year of tier history (RFC 3339); fixed by default so a seed always gives the
    /// same fleet.
    #[arg(long, default_value = "2026-11-15T09:00:00Z")]
    at: String,
}

#[derive(Args)]
struct DiffArgs {
    /// Only the tenants of this partner (repeat for several), as an operator run with the
    /// same --partner flags; without it, the whole fleet.
    #[arg(long = "partner", value_name = "PARTNER")]
    partners: Vec<String>,
    /// The operator's namespace, which no tenant may claim.
    #[arg(long, default_value = "tenantry-system")]
    operator_namespace: String,
    /// Instant to plan at (RFC 3339); defaults to now.
    #[arg(long)]
    at: Option<String>,
    /// Preview a pull request: plan what this directory declares (partners, tiers,
    /// tenants, workflows, policies) with the cluster's history, against the cluster's
    /// children, instead of what the cluster declares now.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = DiffOutput::Text)]
    output: DiffOutput,
}

#[derive(Clone, Copy, ValueEnum)]
enum DiffOutput {
    /// A block per object with -/+ lines per field.
    Text,
    /// `{"children": [...], "statuses": [...], "notes": [...]}`.
    Json,
}

#[derive(Args)]
struct ReportArgs {
    /// Directory of YAML manifests, planned at --at.
    #[arg(required_unless_present = "cluster", conflicts_with = "cluster")]
    dir: Option<PathBuf>,
    /// Read the tenant, its partner, tier, workflows and BillingRecords from the current
    /// kubeconfig's cluster (read-only).
    #[arg(long)]
    cluster: bool,
    /// Instant of the review (RFC 3339); defaults to now. A directory is planned at it; a
    /// period not over by then is reviewed up to it.
    #[arg(long)]
    at: Option<String>,
    /// The tenant reviewed.
    #[arg(long)]
    tenant: String,
    /// The period: a month (2026-11), a quarter (2026-Q4) or an ISO week (2026-W47).
    #[arg(long)]
    period: String,
    /// Prometheus address (http://host:port) to read the runners' throughput and exceptions from.
    #[arg(long, value_name = "URL")]
    prometheus: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ReportOutput::Html)]
    output: ReportOutput,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportOutput {
    /// One self-contained HTML page.
    Html,
    /// Markdown.
    Md,
}

/// Where the billing commands read records from.
#[derive(Args)]
struct BooksArgs {
    /// Directory of YAML manifests, planned at --at.
    #[arg(required_unless_present = "cluster", conflicts_with = "cluster")]
    dir: Option<PathBuf>,
    /// Read BillingRecords, Partners and Tenants from the current kubeconfig's cluster (read-only).
    #[arg(long)]
    cluster: bool,
    /// Instant to plan the directory at (RFC 3339); defaults to now. With --cluster, only
    /// picks the current month.
    #[arg(long)]
    at: Option<String>,
}

#[derive(Args)]
struct BillArgs {
    #[command(flatten)]
    books: BooksArgs,
    /// Month to invoice, YYYY-MM.
    #[arg(long)]
    period: String,
    /// Also show the month's open records, marked as drafts.
    #[arg(long)]
    include_open: bool,
    /// With --cluster, after printing: annotate each Closed record of the month
    /// `tenantry.dev/exported-at` (a record already annotated keeps its first export). Only
    /// exported records can be deleted by `tenantry run --billing-retention-days`.
    #[arg(long)]
    mark_exported: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = BillOutput::Csv)]
    output: BillOutput,
}

#[derive(Args)]
struct RevenueArgs {
    #[command(flatten)]
    books: BooksArgs,
    /// Only this partner (all partners by default).
    #[arg(long)]
    partner: Option<String>,
    /// Months shown, ending with the month of --at.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u16).range(1..=120))]
    months: u16,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = RevenueOutput::Table)]
    output: RevenueOutput,
    /// Also write an SVG bar chart of monthly MRR to FILE (one partner: pass --partner when
    /// there are several).
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum BillOutput {
    /// One row per invoice line.
    Csv,
    /// An array of invoices with their lines.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum RevenueOutput {
    /// A table and a chart per partner.
    Table,
    /// An array of partners with their months.
    Json,
    /// One row per partner and month.
    Csv,
}

#[derive(Args)]
struct RunArgs {
    /// Tenants reconciled at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Milliseconds a tenant's reconcile waits after a change for more changes, each one
    /// starting the wait again, so a burst is planned and written once; 0 reconciles at once.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    debounce_ms: u64,
    /// Serve only the tenants of this partner (repeat for several); shards a large fleet
    /// across operator deployments, each with its own --lease-name.
    #[arg(long = "partner", value_name = "PARTNER")]
    partners: Vec<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_address: SocketAddr,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Reconcile without leader election (only with a single replica).
    #[arg(long)]
    no_leader_election: bool,
    /// Name of the coordination.k8s.io Lease the replicas compete for.
    #[arg(long, default_value = "tenantry-controller")]
    lease_name: String,
    /// Namespace of the Lease; defaults to $POD_NAMESPACE, else tenantry-system.
    #[arg(long, env = "POD_NAMESPACE", default_value = "tenantry-system")]
    lease_namespace: String,
    /// Seconds a lease holds without renewal; a follower takes over after that. The leader
    /// renews every 2/15 of it and stops reconciling if it has not renewed within 2/3 of it.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=300))]
    lease_duration: u64,
    /// Open BillingRecords are billed up to the last multiple of this many seconds, so each is
    /// rewritten at most once per interval.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(60..=86_400))]
    billing_refresh_seconds: u64,
    /// Seconds after the end of its month a BillingRecord stays open before it closes.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(0..=2_592_000))]
    billing_grace_seconds: u64,
    /// Delete Closed BillingRecords this many days after the end of their month, but only
    /// those exported (`tenantry bill --cluster --mark-exported` annotates them); never an
    /// Open or unexported one. Off by default: every record is kept.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    billing_retention_days: Option<u32>,
    /// This replica's identity; defaults to $POD_NAME, else the host name.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    /// A summary per tenant and workflow.
    Table,
    /// The manifests, as a multi-document YAML stream.
    Yaml,
    /// The manifests, as a v1 List.
    Json,
    /// Every declared object's planned phase, readiness, reason and conditions, as YAML (a
    /// `PlanStatus` document, never applied).
    Status,
    /// The same as JSON.
    StatusJson,
}

/// What `--fail-on` refuses.
#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    /// Objects with Stalled=True.
    Stalled,
    /// Objects not Ready (except those only waiting for their workload to run).
    NotReady,
}

/// mimalloc serves every allocation of the CLI and the operator (see Cargo.toml for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_INVALID_INPUT: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_GATE: u8 = 3;

/// The name the binary answers to: `kubectl tenantry` when kubectl runs it as its plugin
/// (an executable named `kubectl-tenantry` on the PATH), `tenantry` otherwise.
fn invoked_as() -> &'static str {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let file = std::path::Path::new(&argv0).file_name().map(|f| f.to_string_lossy().into_owned());
    if file.as_deref() == Some("kubectl-tenantry") {
        "kubectl tenantry"
    } else {
        "tenantry"
    }
}

fn main() -> ExitCode {
    let name = invoked_as();
    let matches = Cli::command().name(name).bin_name(name).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match cli.command {
        Command::Completions { shell } => {
            let mut command = Cli::command().name(name).bin_name(name);
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, name, &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: cannot write the completion script: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Crds => match crdgen::to_yaml() {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot render the CRDs: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Plan { dir, at, output, fail_on } => plan(dir, at, output, fail_on),
        Command::Run(args) => run(args),
        Command::Diff(args) => diff(args),
        Command::Bill(args) => bill(args),
        Command::Revenue(args) => revenue(args),
        Command::Report(args) => review(args),
        Command::Bench(BenchCommand::Generate(args)) => generate(args),
    }
}

fn generate(args: GenerateArgs) -> ExitCode {
    let now = match commands::instant(Some(&args.at)) {
        Ok(now) => now,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let shape = planner::generate::FleetShape {
        tenants: args.tenants,
        workflows_per_tenant: args.workflows_per_tenant,
        partners: usize::from(args.partners),
        seed: args.seed,
    };
    match commands::generate::write(&args.dir, shape, now) {
        Ok(files) => {
            eprintln!("wrote {files} files under {}", args.dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn run(args: RunArgs) -> ExitCode {
    init_logging(args.log_format);
    let identity = args.identity.clone().unwrap_or_else(|| {
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| format!("tenantry-{}", std::process::id()))
    });
    let options = RunOptions {
        controllers: ControllerOptions {
            concurrency: args.concurrency,
            debounce: std::time::Duration::from_millis(args.debounce_ms),
            partners: args.partners.iter().cloned().collect(),
            instance: Some(identity.clone()),
            billing: tenantry::planner::ClosingRules {
                refresh: jiff::SignedDuration::from_secs(args.billing_refresh_seconds as i64),
                grace: jiff::SignedDuration::from_secs(args.billing_grace_seconds as i64),
                retention: args
                    .billing_retention_days
                    .map(|days| jiff::SignedDuration::from_hours(i64::from(days) * 24)),
            },
        },
        metrics_address: args.metrics_address,
        lease: (!args.no_leader_election).then(|| {
            LeaseSettings::new(
                args.lease_namespace.clone(),
                args.lease_name.clone(),
                identity,
                Duration::from_secs(args.lease_duration),
            )
        }),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(operator::run(options)) {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "tenantry stopped");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn plan(dir: PathBuf, at: Option<String>, output: Output, fail_on: Option<FailOn>) -> ExitCode {
    let now = match at {
        Some(text) => match text.parse::<jiff::Timestamp>() {
            Ok(now) => now,
            Err(e) => {
                eprintln!("error: --at '{text}' is not an RFC 3339 instant such as 2026-11-01T00:00:00Z: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
        None => jiff::Timestamp::now(),
    };
    if !dir.is_dir() {
        eprintln!("error: '{}' is not a directory", dir.display());
        return ExitCode::from(EXIT_USAGE);
    }
    let loaded = match input::load_dir(&dir) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            eprintln!("{} input error(s); nothing was planned", errors.len());
            return ExitCode::from(EXIT_INVALID_INPUT);
        }
    };
    let plan = planner::plan(&loaded.world, now);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let printed = match output {
        Output::Table => out.write_all(render::table(&loaded.world, &plan).as_bytes()).map_err(Into::into),
        Output::Yaml => render::yaml(&plan, &mut out),
        Output::Json => render::json(&plan, &mut out),
        Output::Status => serde_yaml::to_writer(&mut out, &gate::standing(&plan, now)).map_err(Into::into),
        Output::StatusJson => serde_json::to_writer_pretty(&mut out, &gate::standing(&plan, now))
            .map_err(render::RenderError::from)
            .and_then(|()| out.write_all(b"\n").map_err(Into::into)),
    };
    let printed = printed.and_then(|()| out.flush().map_err(Into::into));
    drop(out);
    let code = match printed {
        Ok(()) => {
            for skipped in &loaded.skipped {
                eprintln!("note: {}: skipped {}", skipped.origin, skipped.what);
            }
            gate_exit(&plan, now, fail_on)
        }
        // The reader stopped (`| head`): not an error of ours; the gate still decides.
        Err(render::RenderError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            gate_exit(&plan, now, fail_on)
        }
        Err(e) => {
            eprintln!("error: cannot render the plan: {e}");
            ExitCode::FAILURE
        }
    };
    // The process ends here: freeing a fleet's plan object by object (millions of small
    // allocations at 10,000 tenants) costs a second the operating system does not need.
    std::mem::forget(plan);
    std::mem::forget(loaded);
    code
}

/// The exit of `plan --fail-on`: 3 with one line per failing object on stderr, 0 otherwise.
fn gate_exit(plan: &planner::Plan, now: jiff::Timestamp, fail_on: Option<FailOn>) -> ExitCode {
    let Some(fail_on) = fail_on else { return ExitCode::SUCCESS };
    let (what, fail_on) = match fail_on {
        FailOn::Stalled => ("stalled", gate::FailOn::Stalled),
        FailOn::NotReady => ("not ready", gate::FailOn::NotReady),
    };
    let failures = gate::failures(&gate::standing(plan, now), fail_on);
    if failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!("plan gate: {} object(s) {what}:", failures.len());
    for failure in &failures {
        eprintln!("  {failure}");
    }
    ExitCode::from(EXIT_GATE)
}

/// `tenantry diff`: 0 no differences, 1 differences, 2 an error.
fn diff(args: DiffArgs) -> ExitCode {
    const EXIT_DIFF_ERROR: u8 = 2;
    let now = match commands::instant(args.at.as_deref()) {
        Ok(now) => now,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_DIFF_ERROR);
        }
    };
    let options = commands::diff::Options {
        partners: args.partners.iter().cloned().collect(),
        operator_namespace: args.operator_namespace.clone(),
        billing: planner::ClosingRules::default(),
    };
    let declared = match &args.dir {
        None => None,
        Some(dir) => match input::load_dir(dir) {
            Ok(loaded) => Some(loaded.world),
            Err(errors) => {
                for error in &errors {
                    eprintln!("error: {error}");
                }
                return ExitCode::from(EXIT_DIFF_ERROR);
            }
        },
    };
    let computed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
        .and_then(|rt| {
            rt.block_on(async {
                let client = kube::Client::try_default().await?;
                match declared {
                    Some(declared) => commands::diff::from_cluster_with_dir(&client, &options, now, declared).await,
                    None => commands::diff::from_cluster(&client, &options, now).await,
                }
            })
            .map_err(|e| format!("cannot read the cluster: {e}"))
        });
    let diff = match computed {
        Ok(diff) => diff,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_DIFF_ERROR);
        }
    };
    match args.output {
        DiffOutput::Text => print!("{}", commands::diff::to_text(&diff)),
        DiffOutput::Json => match commands::diff::to_json(&diff) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("error: cannot render the diff: {e}");
                return ExitCode::from(EXIT_DIFF_ERROR);
            }
        },
    }
    if diff.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The records of the directory planned at `at`, or of the cluster.
fn read_books(args: &BooksArgs) -> Result<(books::Books, jiff::Timestamp), ExitCode> {
    let now = commands::instant(args.at.as_deref()).map_err(|message| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_USAGE)
    })?;
    let Some(dir) = args.dir.as_ref().filter(|_| !args.cluster) else {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let listed = runtime
            .map_err(|e| format!("cannot start the async runtime: {e}"))
            .and_then(|rt| rt.block_on(books::from_cluster()).map_err(|e| e.to_string()));
        return listed.map(|b| (b, now)).map_err(|e| {
            eprintln!("error: cannot read BillingRecords, Partners and Tenants from the cluster: {e}");
            ExitCode::from(EXIT_INVALID_INPUT)
        });
    };
    if !dir.is_dir() {
        eprintln!("error: '{}' is not a directory", dir.display());
        return Err(ExitCode::from(EXIT_USAGE));
    }
    books::from_dir(dir, now).map(|b| (b, now)).map_err(|errors| {
        for error in &errors {
            eprintln!("error: {error}");
        }
        eprintln!("{} input error(s); nothing was billed", errors.len());
        ExitCode::from(EXIT_INVALID_INPUT)
    })
}

fn bill(args: BillArgs) -> ExitCode {
    if args.mark_exported && !args.books.cluster {
        eprintln!(
            "error: --mark-exported marks the records of a cluster: add --cluster (a directory's records are its own)"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let period = match args.period.parse::<planner::billing::Period>() {
        Ok(period) => period,
        Err(e) => {
            eprintln!("error: --period: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let (books, _) = match read_books(&args.books) {
        Ok(read) => read,
        Err(code) => return code,
    };
    let invoices = match bill::invoices(&books, period, args.include_open) {
        Ok(invoices) => invoices,
        Err(nothing) => {
            eprintln!("error: {nothing}");
            return ExitCode::from(EXIT_INVALID_INPUT);
        }
    };
    match args.output {
        BillOutput::Csv => print!("{}", bill::to_csv(&invoices)),
        BillOutput::Json => match bill::to_json(&invoices) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("error: cannot render the invoices: {e}");
                return ExitCode::FAILURE;
            }
        },
    }
    if args.mark_exported {
        use std::io::Write;
        // Marked only once the invoices are out.
        if let Err(e) = std::io::stdout().flush() {
            eprintln!("error: cannot write the invoices: {e}; nothing was marked exported");
            return ExitCode::FAILURE;
        }
        let (names, already) = export::to_mark(&books, period);
        let marked = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| rt.block_on(export::mark(&names, jiff::Timestamp::now())).map_err(|e| e.to_string()));
        match marked {
            Ok(()) => eprintln!(
                "marked {} Closed BillingRecord(s) of {period} exported ({already} already were)",
                names.len()
            ),
            Err(e) => {
                eprintln!("error: the invoices were printed, but marking their records exported failed: {e}");
                return ExitCode::from(EXIT_INVALID_INPUT);
            }
        }
    }
    ExitCode::SUCCESS
}

fn revenue(args: RevenueArgs) -> ExitCode {
    let (books, now) = match read_books(&args.books) {
        Ok(read) => read,
        Err(code) => return code,
    };
    let through = planner::billing::Period::containing(now);
    let reports = match income::report(&books, args.partner.as_deref(), through, usize::from(args.months)) {
        Ok(reports) => reports,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_INVALID_INPUT);
        }
    };
    if let Some(path) = &args.svg {
        let [report] = reports.as_slice() else {
            eprintln!("error: --svg charts one partner; add --partner (one of: {})", partner_names(&reports));
            return ExitCode::from(EXIT_USAGE);
        };
        if let Err(e) = std::fs::write(path, chart::svg(report)) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let open = through.to_string();
    let printed = match args.output {
        RevenueOutput::Table => {
            Ok(reports.iter().map(|r| income::table(r, Some(&open))).collect::<Vec<_>>().join("\n"))
        }
        RevenueOutput::Json => income::to_json(&reports).map_err(|e| e.to_string()),
        RevenueOutput::Csv => Ok(income::to_csv(&reports)),
    };
    match printed {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot render the revenue: {e}");
            ExitCode::FAILURE
        }
    }
}

fn partner_names(reports: &[income::PartnerRevenue]) -> String {
    reports.iter().map(|r| r.partner.as_str()).collect::<Vec<_>>().join(", ")
}

fn review(args: ReportArgs) -> ExitCode {
    let period = match args.period.parse::<report::ReviewPeriod>() {
        Ok(period) => period,
        Err(e) => {
            eprintln!("error: --period: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let now = match commands::instant(args.at.as_deref()) {
        Ok(now) => now,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let source = match args.dir.as_ref().filter(|_| !args.cluster) {
        Some(dir) if !dir.is_dir() => {
            eprintln!("error: '{}' is not a directory", dir.display());
            return ExitCode::from(EXIT_USAGE);
        }
        Some(dir) => report::from_dir(dir, now, &args.tenant),
        None => runtime.block_on(report::from_cluster(&args.tenant)),
    };
    let source = match source {
        Ok(source) => source,
        Err(report::SourceError::Input(errors)) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            eprintln!("{} input error(s); no review was written", errors.len());
            return ExitCode::from(EXIT_INVALID_INPUT);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID_INPUT);
        }
    };
    let trends = match &args.prometheus {
        None => report::TrendsView::NotRequested,
        Some(address) => match runtime.block_on(report_prometheus::fetch(address, &args.tenant, &period, now)) {
            Ok(trends) => report::TrendsView::Measured(trends),
            Err(report_prometheus::TrendsError::BadAddress(address)) => {
                eprintln!("error: {}", report_prometheus::TrendsError::BadAddress(address));
                return ExitCode::from(EXIT_USAGE);
            }
            Err(e) => {
                eprintln!("warning: {e}; the review is written without trends");
                report::TrendsView::Unavailable { reason: e.to_string() }
            }
        },
    };
    let review = report::review(&source, &period, now, trends);
    if let Some(note) = &review.tier.cadence_note {
        eprintln!("note: {note}");
    }
    match args.output {
        ReportOutput::Html => print!("{}", report_html::render(&review)),
        ReportOutput::Md => print!("{}", report_md::render(&review)),
    }
    ExitCode::SUCCESS
}
