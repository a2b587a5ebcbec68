//! Impella pump models: the device catalogue and the pump (HQ) characteristic.
//!
//! Each device is one TOML file in `data/devices/` (embedded with `include_str!`; a user can
//! load more with [`Catalogue::load_file`]). A file holds the P-level table (rotor speed and
//! published mean-flow range per level), the rated maximum flow, the cannula inertance, the
//! stopped-rotor leak and the per-P-level HQ polynomials, every number with its basis and
//! source. [`DeviceSpec::pump_curve`] turns the polynomials into a [`PumpCurve`]: the head
//! H(q, ω) the rotor generates, continuous in flow and speed and strictly decreasing in
//! flow, for the cannula-flow ODE L·dQ/dt = H(Q, ω) − (P_out − P_in).
//!
//! Symbols, construction and every source: docs/devices.md.

mod catalogue;
mod hq;
mod pump;

pub use catalogue::{Catalogue, DeviceSpec, PLevel, Provenance, Sourced};
pub use hq::{PumpCurve, SpeedPoint, StoppedRotor};
pub use pump::{InletSuction, Position, Pump};

use serde::Deserialize;
use std::path::PathBuf;
use thiserror::Error;

/// Where a pump sits in the circulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Inlet in the left ventricle, outlet in the ascending aorta (2.5, CP, 5.0, 5.5).
    Left,
    /// Inlet at the IVC / right-atrium junction, outlet in the pulmonary artery (RP).
    Right,
}

/// How a number was obtained; the marks of the reference data (docs/devices.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// Abiomed instructions for use.
    Ifu,
    /// A paper (abstract, table or figure).
    Paper,
    /// Public source code of another project.
    Code,
    /// Computed from cited numbers by a stated method.
    Derived,
    /// Engineering estimate, not a published figure.
    Estimate,
    /// Domain knowledge, not verified.
    Recalled,
}

/// Errors from loading, validating or querying devices. Messages name the file, the key and
/// the line/column where known, and the allowed values.
#[derive(Debug, Error)]
pub enum DeviceError {
    /// The device file could not be read.
    #[error("cannot read device file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax error, unknown key, missing key or wrong type.
    #[error("{origin}{}: {message}", location(*line, *column))]
    Parse {
        /// File path, or `builtin:<file>` for embedded data.
        origin: String,
        /// 1-based line, when the parser reports a position.
        line: Option<usize>,
        /// 1-based column (characters), when the parser reports a position.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// Well-formed TOML whose values break a rule (levels, speeds, ranges, HQ curves).
    #[error("{origin}{}: {message}", location(*line, *column))]
    Invalid {
        /// File path, or `builtin:<file>` for embedded data.
        origin: String,
        /// 1-based line of the offending value, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// The rule broken.
        message: String,
    },
    /// No device with this id or alias.
    #[error("unknown device model '{model}'; known models: {known}")]
    UnknownModel {
        /// The name given.
        model: String,
        /// Ids and aliases of the catalogue.
        known: String,
    },
    /// The device has no such P-level.
    #[error("device '{device}' has no P-level {level}; allowed P-levels: 0 to {max}")]
    UnknownPLevel {
        /// Catalogue id.
        device: String,
        /// The level asked for.
        level: u8,
        /// Its highest level.
        max: u8,
    },
    /// Adding a device whose id or alias is already taken.
    #[error("device '{device}': name '{name}' is already used by device '{existing}'")]
    DuplicateName {
        /// The device being added.
        device: String,
        /// The id or alias in conflict.
        name: String,
        /// The device that has it.
        existing: String,
    },
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(", line {l}, column {c}"),
        (Some(l), None) => format!(", line {l}"),
        _ => String::new(),
    }
}
