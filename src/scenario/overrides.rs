//! `--set` overrides that change the scenario itself rather than a parameter: the preset and
//! the devices. They use the keys sweep files use (`patient.preset`, `devices.0.p_level`,
//! `devices.0.model`, `device`), so a key that works in `[sweep]` works on the command line.

use toml::Spanned;

use super::{DeviceSection, ScenarioFile};

/// Applies the overrides among `overrides` whose key is a scenario key to `raw`; returns the
/// others (as written, parameter path, value), in order. Errors start with `--set TEXT:`.
pub(super) fn apply<'a>(
    raw: &mut ScenarioFile,
    overrides: &'a [String],
) -> Result<Vec<(&'a str, &'a str, f64)>, String> {
    let mut parameters = Vec::new();
    for text in overrides {
        let (path, value) = split(text)?;
        let fail = |m: String| format!("--set {text}: {m}");
        let here = |v: &str| Spanned::new(0..0, v.to_string());
        let segs: Vec<&str> = path.split('.').collect();
        match segs.as_slice() {
            ["patient", "preset"] => raw.patient.preset = Some(here(value)),
            ["device"] => set_device(raw, value).map_err(fail)?,
            ["devices", index, field] => {
                let n = raw.devices.len();
                let i: usize = index
                    .parse()
                    .map_err(|_| fail(format!("'{index}' is not a device index (0, 1, ...)")))?;
                let device = raw
                    .devices
                    .get_mut(i)
                    .map(Spanned::get_mut)
                    .ok_or_else(|| {
                        fail(format!(
                        "the scenario has {n} device{}, so devices.{i} does not exist; add one \
                         with --set device=MODEL@P (e.g. device=cp@8)",
                        if n == 1 { "" } else { "s" }
                    ))
                    })?;
                match *field {
                    "p_level" => device.p_level = Spanned::new(0..0, p_level(value).map_err(fail)?),
                    "model" => device.model = here(value),
                    "position" => device.position = Some(here(value)),
                    other => {
                        return Err(fail(format!(
                            "devices.{i} has no key '{other}' (keys: model, p_level, position)"
                        )))
                    }
                }
            }
            _ => {
                let number: f64 = value.parse().map_err(|_| {
                    fail(format!(
                        "'{value}' is not a number (parameters take numbers in the units of \
                         `impella-sim parameters`; text values are for patient.preset, device, \
                         devices.N.model and devices.N.position)"
                    ))
                })?;
                parameters.push((text.as_str(), path, number));
            }
        }
    }
    Ok(parameters)
}

/// Splits "path=value" into its trimmed parts.
fn split(text: &str) -> Result<(&str, &str), String> {
    let (path, value) = text
        .split_once('=')
        .ok_or_else(|| format!("--set {text}: expected PATH=VALUE, e.g. --set lv.ees=0.8"))?;
    Ok((path.trim(), value.trim()))
}

/// "8" or "P8" as a P-level.
fn p_level(text: &str) -> Result<u8, String> {
    text.trim_start_matches(['P', 'p'])
        .parse()
        .map_err(|_| format!("'{text}' is not a P-level (a whole number such as 8)"))
}

/// `device=none|MODEL|MODEL@P`: the scenario's first device removed, its model changed, or
/// replaced (added when there is none), as the sweep key `device` does.
fn set_device(raw: &mut ScenarioFile, text: &str) -> Result<(), String> {
    let here = |v: &str| Spanned::new(0..0, v.to_string());
    if text.eq_ignore_ascii_case("none") {
        if !raw.devices.is_empty() {
            raw.devices.remove(0);
        }
        return Ok(());
    }
    match text.split_once('@') {
        Some((model, level)) if !model.trim().is_empty() => {
            let section = DeviceSection {
                model: here(model.trim()),
                p_level: Spanned::new(0..0, p_level(level.trim())?),
                position: None,
            };
            match raw.devices.first_mut() {
                Some(first) => {
                    let d = first.get_mut();
                    d.model = section.model;
                    d.p_level = section.p_level;
                }
                None => raw.devices.push(Spanned::new(0..0, section)),
            }
            Ok(())
        }
        None if !text.is_empty() => match raw.devices.first_mut() {
            Some(first) => {
                first.get_mut().model = here(text);
                Ok(())
            }
            None => Err(format!(
                "the scenario has no device to take a P-level from: write {text}@P, e.g. {text}@8"
            )),
        },
        _ => Err(format!(
            "'{text}' is not a device: use none, MODEL or MODEL@P (e.g. cp@8)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    fn set(overrides: &[&str]) -> Result<super::super::Scenario, String> {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        parse(
            "[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = 8\n",
            None,
            &o,
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn preset_and_device_keys_work_like_sweep_keys() {
        let s = set(&["patient.preset=scai_d_lv", "devices.0.p_level=6"]).unwrap();
        assert_eq!(s.preset, "scai_d_lv");
        assert_eq!(s.pumps[0].p_level(), 6);
        let s = set(&["device=5.5@P4"]).unwrap();
        assert_eq!(
            (s.pumps[0].model.as_str(), s.pumps[0].p_level()),
            ("5.5", 4)
        );
        assert!(set(&["device=none"]).unwrap().pumps.is_empty());
        // Parameters still follow the preset, whatever the order.
        let s = set(&["lv.ees=0.7", "patient.preset=normal"]).unwrap();
        assert_eq!((s.preset.as_str(), s.params.lv.ees), ("normal", 0.7));
    }

    #[test]
    fn bad_scenario_keys_say_what_is_allowed() {
        let e = set(&["patient.preset=nope"]).unwrap_err();
        assert!(e.contains("unknown preset 'nope'"), "{e}");
        let e = set(&["devices.1.p_level=6"]).unwrap_err();
        assert!(e.contains("devices.1 does not exist"), "{e}");
        let e = set(&["devices.0.p_level=high"]).unwrap_err();
        assert!(e.contains("not a P-level"), "{e}");
        let e = set(&["devices.0.p_level=12"]).unwrap_err();
        assert!(e.contains("p_level"), "{e}");
        let e = set(&["lv.ees=stiff"]).unwrap_err();
        assert!(e.contains("'stiff' is not a number"), "{e}");
    }
}
