//! The `tenantry` command: generate CRDs, preview a plan from a GitOps directory, run the
//! operator.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use tenantry::{crdgen, input, planner, render};

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
    /// Show what the operator would do with a directory of manifests, without a cluster.
    ///
    /// Reads every .yaml/.yml file under DIR (all documents in each), plans the fleet at the
    /// given instant and prints a summary per tenant, or the manifests to apply.
    ///
    /// Examples:
    ///   tenantry plan examples/gitops
    ///   tenantry plan examples/gitops -o yaml --at 2026-11-01T00:00:00Z | kubectl apply --dry-run=server -f -
    ///
    /// Exit codes: 0 planned, 1 invalid input (each error names the file, document and field),
    /// 2 usage error.
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
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    /// A summary per tenant and workflow.
    Table,
    /// The manifests, as a multi-document YAML stream.
    Yaml,
    /// The manifests, as a v1 List.
    Json,
}

const EXIT_INVALID_INPUT: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
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
        Command::Plan { dir, at, output } => plan(dir, at, output),
    }
}

fn plan(dir: PathBuf, at: Option<String>, output: Output) -> ExitCode {
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
    let printed = match output {
        Output::Table => Ok(render::table(&loaded.world, &plan)),
        Output::Yaml => render::yaml(&plan).map_err(|e| e.to_string()),
        Output::Json => render::json(&plan).map_err(|e| e.to_string()),
    };
    match printed {
        Ok(text) => {
            print!("{text}");
            for skipped in &loaded.skipped {
                eprintln!("note: {}: skipped {}", skipped.origin, skipped.what);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot render the plan: {e}");
            ExitCode::FAILURE
        }
    }
}
