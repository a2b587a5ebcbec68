//! The commented starting scenario that `impella-sim init` writes, for users who installed
//! the binary alone and have none of the shipped scenario files.

/// The template's text (assets/templates/scenario.toml).
pub const TEMPLATE: &str = include_str!("../../assets/templates/scenario.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_parses_with_a_device() {
        let s = super::super::parse(TEMPLATE, None, &[]).unwrap();
        assert_eq!(s.preset, "scai_c_lv");
        assert_eq!(s.pumps.len(), 1);
    }
}
