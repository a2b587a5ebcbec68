//! The docs agree with the code's one source of each fact.

use impella_sim::analysis::BeatMetrics;

/// docs/outputs.md's beats.csv table lists every metric, in output order, with the unit and
/// definition of the registry (`BeatMetrics::INFO`).
#[test]
fn the_outputs_table_is_the_metric_registry() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/outputs.md"))
        .expect("docs/outputs.md");
    let rows: Vec<(String, String, String)> = text
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.strip_prefix("| `")?.splitn(3, " | ").collect();
            let key = cells.first()?.strip_suffix('`')?;
            let definition = cells.get(2)?.strip_suffix(" |")?;
            Some((
                key.to_string(),
                cells.get(1)?.to_string(),
                definition.to_string(),
            ))
        })
        .filter(|(k, _, _)| BeatMetrics::NAMES.contains(&k.as_str()))
        .collect();
    let want: Vec<(String, String, String)> = BeatMetrics::INFO
        .iter()
        .map(|m| (m.key.into(), m.unit.into(), m.definition.into()))
        .collect();
    for (got, want) in rows.iter().zip(&want) {
        assert_eq!(
            got, want,
            "docs/outputs.md row; expected:\n| `{}` | {} | {} |",
            want.0, want.1, want.2
        );
    }
    assert_eq!(rows.len(), want.len(), "every metric has its row");
}
