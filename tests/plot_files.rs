//! Behaviour tests for the PV-loop picture writer (PNG and SVG).

mod common;

use std::path::PathBuf;

use common::pictures::{attr, fit, png_size, svg_polylines, svg_texts};

use impella_sim::output::plot::{
    histogram_svg, pv_plot_svg, stacked_size_px, waveforms_svg, write_heatmap, write_histogram,
    write_pv_plot, write_timeline, write_waveforms, write_xy_chart, xy_chart_svg, Curve,
    EventMarker, Heatmap, Histogram, ImageFormat, Panel, PlotError, PvLoop, PvPlot, Series,
    StackedPlot, XyChart, DEFAULT_SIZE_PX,
};

/// The synthetic rectangular loop: V 50–120 mL, P 10–110 mmHg, counter-clockwise
/// as a real loop runs (fill at low pressure, then eject at high pressure).
fn rect_loop(label: &str) -> PvLoop {
    PvLoop {
        label: label.to_string(),
        volume_ml: vec![50.0, 120.0, 120.0, 50.0, 50.0],
        pressure_mmhg: vec![10.0, 10.0, 110.0, 110.0, 10.0],
        end_diastole: Some((120.0, 10.0)),
        end_systole: Some((50.0, 110.0)),
    }
}

/// A smooth loop from a time-varying elastance caricature, scaled for stages.
fn physiological_loop(label: &str, ved: f64, ves: f64, pes: f64) -> PvLoop {
    let edpvr = |v: f64| 0.45 * ((0.03 * (v - 10.0)).exp() - 1.0);
    let mut v = Vec::new();
    let mut p = Vec::new();
    let n = 60;
    // Isovolumic contraction.
    for i in 0..n {
        let f = i as f64 / n as f64;
        v.push(ved);
        p.push(edpvr(ved) + f * (0.8 * pes - edpvr(ved)));
    }
    // Ejection: pressure rises then falls towards end-systole.
    for i in 0..n {
        let f = i as f64 / n as f64;
        v.push(ved - f * (ved - ves));
        p.push(0.8 * pes + 0.35 * pes * (std::f64::consts::PI * f).sin() + 0.2 * pes * f);
    }
    // Isovolumic relaxation.
    for i in 0..n {
        let f = i as f64 / n as f64;
        v.push(ves);
        p.push(pes + f * (edpvr(ves) + 2.0 - pes));
    }
    // Filling along the EDPVR.
    for i in 0..=n {
        let f = i as f64 / n as f64;
        let vv = ves + f * (ved - ves);
        v.push(vv);
        p.push(edpvr(vv) + 2.0 * (1.0 - f));
    }
    PvLoop {
        label: label.to_string(),
        volume_ml: v,
        pressure_mmhg: p,
        end_diastole: Some((ved, edpvr(ved))),
        end_systole: Some((ves, pes)),
    }
}

fn reference_lines() -> Vec<Curve> {
    vec![
        Curve {
            label: "ESPVR".into(),
            points: vec![(10.0, 0.0), (200.0, 2.5 * 190.0)],
        },
        Curve {
            label: "EDPVR".into(),
            points: (0..=100)
                .map(|i| {
                    let v = 10.0 + 2.0 * i as f64;
                    (v, 0.45 * ((0.03 * (v - 10.0)).exp() - 1.0))
                })
                .collect(),
        },
    ]
}

fn render(format: ImageFormat, plot: &PvPlot, size: (u32, u32)) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("pv.{format}"));
    write_pv_plot(&path, plot, format, size).unwrap();
    (dir, path)
}

// ---------------------------------------------------------------------------
/// Axis mappings derived from the numeric tick labels the SVG shows:
/// x ticks are centred under the axis on one row, y ticks right-aligned in one column.
fn axis_mappings(svg: &str) -> ((f64, f64), (f64, f64)) {
    let numeric: Vec<_> = svg_texts(svg)
        .into_iter()
        .filter_map(|(x, y, anchor, t)| t.parse::<f64>().ok().map(|v| (x, y, anchor, v)))
        .collect();
    let x_ticks: Vec<(f64, f64)> = numeric
        .iter()
        .filter(|t| t.2 == "middle")
        .map(|t| (t.3, t.0))
        .collect();
    let y_ticks: Vec<(f64, f64)> = numeric
        .iter()
        .filter(|t| t.2 == "end")
        .map(|t| (t.3, t.1))
        .collect();
    assert!(x_ticks.len() >= 3, "x tick labels: {x_ticks:?}");
    assert!(y_ticks.len() >= 3, "y tick labels: {y_ticks:?}");
    let xm = fit(&x_ticks);
    let ym = fit(&y_ticks);
    // The labels must lie on the fitted lines (i.e. a linear axis).
    for &(v, px) in &x_ticks {
        assert!((xm.0 + xm.1 * v - px).abs() <= 1.5, "x tick {v} at {px}");
    }
    for &(v, px) in &y_ticks {
        assert!((ym.0 + ym.1 * v - px).abs() <= 1.5, "y tick {v} at {px}");
    }
    assert!(xm.1 > 0.0, "volume grows to the right");
    assert!(ym.1 < 0.0, "pressure grows upwards");
    (xm, ym)
}

/// The plot frame (x from, x to, y from, y to in pixels) from the two axis
/// lines: the longest vertical and the longest horizontal dark polyline.
fn plot_frame(svg: &str) -> (f64, f64, f64, f64) {
    let mut vertical = (0.0, 0.0, 0.0, 0.0);
    let mut horizontal = (0.0, 0.0, 0.0, 0.0);
    for (stroke, pts) in svg_polylines(svg) {
        if stroke != "#191919" || pts.len() != 2 {
            continue;
        }
        let [(xa, ya), (xb, yb)] = [pts[0], pts[1]];
        if xa == xb && (yb - ya).abs() > vertical.3 - vertical.2 {
            vertical = (xa, xa, ya.min(yb), ya.max(yb));
        }
        if ya == yb && (xb - xa).abs() > horizontal.1 - horizontal.0 {
            horizontal = (xa.min(xb), xa.max(xb), ya, ya);
        }
    }
    assert!(vertical.3 - vertical.2 > 100.0, "y axis line found");
    assert!(horizontal.1 - horizontal.0 > 100.0, "x axis line found");
    (horizontal.0, horizontal.1, vertical.2, vertical.3)
}

// ---------------------------------------------------------------------------

#[test]
fn png_has_signature_and_requested_size() {
    let loops = [rect_loop("Baseline")];
    let refs = reference_lines();
    let plot = PvPlot {
        chamber: "LV",
        title: "PNG size check",
        loops: &loops,
        reference_lines: &refs,
    };
    for size in [DEFAULT_SIZE_PX, (640, 480), (801, 1003)] {
        let (_dir, path) = render(ImageFormat::Png, &plot, size);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(png_size(&bytes), size);
        // Bit depth 8, colour type 2 (RGB), and a well-formed chunk sequence ending in IEND.
        assert_eq!((bytes[24], bytes[25]), (8, 2));
        let mut at = 8;
        let mut kinds = Vec::new();
        while at + 8 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            kinds.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
            at += 12 + len;
        }
        assert_eq!(at, bytes.len(), "chunks fill the file exactly");
        assert_eq!(kinds.first().map(String::as_str), Some("IHDR"));
        assert_eq!(kinds.last().map(String::as_str), Some("IEND"));
        assert!(kinds.iter().any(|k| k == "IDAT"));
        // Compressed: far below raw RGB size.
        assert!(
            bytes.len() < (size.0 * size.1) as usize / 2,
            "{} bytes",
            bytes.len()
        );
    }
}

#[test]
fn png_is_written_to_the_exact_path_whatever_the_extension() {
    let loops = [rect_loop("Baseline")];
    let plot = PvPlot {
        chamber: "LV",
        title: "Temporary name",
        loops: &loops,
        reference_lines: &[],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pv.png.partial");
    write_pv_plot(&path, &plot, ImageFormat::Png, (400, 300)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(png_size(&bytes), (400, 300));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["pv.png.partial".to_string()], "no other files");
}

#[test]
fn svg_has_size_title_axis_labels_and_legend() {
    let loops = [rect_loop("Rectangle loop")];
    let refs = reference_lines();
    let title = "Synthetic loop, Impella CP at P4";
    let plot = PvPlot {
        chamber: "LV",
        title,
        loops: &loops,
        reference_lines: &refs,
    };
    let (_dir, path) = render(ImageFormat::Svg, &plot, (1000, 750));
    let svg = std::fs::read_to_string(&path).unwrap();
    let head = svg.trim_start();
    assert!(
        head.starts_with("<svg") || head.starts_with("<?xml"),
        "{head:.80}"
    );
    let open = &head[head.find("<svg").unwrap()..];
    let open = &open[..open.find('>').unwrap()];
    assert_eq!(attr(open, "width"), Some("1000"));
    assert_eq!(attr(open, "height"), Some("750"));
    assert!(svg.trim_end().ends_with("</svg>"));

    let texts: Vec<String> = svg_texts(&svg).into_iter().map(|t| t.3).collect();
    for want in [
        title,
        "LV volume (mL)",
        "LV pressure (mmHg)",
        "Rectangle loop",
        "End-diastole",
        "End-systole",
        "ESPVR",
        "EDPVR",
    ] {
        assert_eq!(
            texts.iter().filter(|t| *t == want).count(),
            1,
            "{want:?} exactly once in {texts:?}"
        );
    }
    assert!(svg.contains("font-family=\"DejaVu Sans, sans-serif\""));
}

#[test]
fn svg_loop_coordinates_follow_the_axis_mapping() {
    let loops = [rect_loop("Rectangle loop")];
    let plot = PvPlot {
        chamber: "LV",
        title: "Rectangle",
        loops: &loops,
        reference_lines: &[],
    };
    let (_dir, path) = render(ImageFormat::Svg, &plot, DEFAULT_SIZE_PX);
    let svg = std::fs::read_to_string(&path).unwrap();
    let ((ax, bx), (ay, by)) = axis_mappings(&svg);

    // Volume axis starts at 0 (data are positive) and leaves room beyond the data.
    let x_of = |v: f64| ax + bx * v;
    let y_of = |p: f64| ay + by * p;
    let (w, h) = (DEFAULT_SIZE_PX.0 as f64, DEFAULT_SIZE_PX.1 as f64);
    assert!(
        x_of(0.0) > 0.0 && x_of(0.0) < 0.25 * w,
        "x(0) = {}",
        x_of(0.0)
    );
    assert!(
        y_of(0.0) < h && y_of(0.0) > 0.75 * h,
        "y(0) = {}",
        y_of(0.0)
    );
    assert!(x_of(120.0) < w && y_of(110.0) > 0.0);

    // The loop is the polyline with exactly the input's five vertices.
    let lines = svg_polylines(&svg);
    let (_, pts) = lines
        .iter()
        .find(|(_, p)| p.len() == 5)
        .expect("loop polyline");
    let tol = 1.5;
    let expected = [
        (50.0, 10.0),
        (120.0, 10.0),
        (120.0, 110.0),
        (50.0, 110.0),
        (50.0, 10.0),
    ];
    for (&(px, py), &(v, p)) in pts.iter().zip(&expected) {
        assert!((px - x_of(v)).abs() <= tol, "V {v}: x {px} vs {}", x_of(v));
        assert!((py - y_of(p)).abs() <= tol, "P {p}: y {py} vs {}", y_of(p));
    }
    // Extents: the rectangle spans 70 mL by 100 mmHg.
    let xs = pts.iter().map(|p| p.0);
    let ys = pts.iter().map(|p| p.1);
    let span_x = xs.clone().fold(f64::MIN, f64::max) - xs.fold(f64::MAX, f64::min);
    let span_y = ys.clone().fold(f64::MIN, f64::max) - ys.fold(f64::MAX, f64::min);
    assert!((span_x - 70.0 * bx).abs() <= 2.0 * tol);
    assert!((span_y + 100.0 * by).abs() <= 2.0 * tol);
    // The data fill a good share of the plot (the margin is modest).
    assert!(span_x > 0.35 * w && span_y > 0.4 * h, "{span_x} x {span_y}");
}

#[test]
fn reference_lines_are_clipped_to_the_axes() {
    let loops = [rect_loop("Rectangle loop")];
    // ESPVR reaches 475 mmHg at 200 mL: far beyond both axes.
    let refs = reference_lines();
    let plot = PvPlot {
        chamber: "LV",
        title: "Clipping",
        loops: &loops,
        reference_lines: &refs,
    };
    let (_dir, path) = render(ImageFormat::Svg, &plot, DEFAULT_SIZE_PX);
    let svg = std::fs::read_to_string(&path).unwrap();
    let (xlo, xhi, ylo, yhi) = plot_frame(&svg);
    // The frame agrees with the tick labels: the axes start at 0 here.
    let ((ax, bx), (ay, by)) = axis_mappings(&svg);
    assert!((ax - xlo).abs() <= 1.5 && (ay - yhi).abs() <= 1.5);
    // Both axes end on a labelled tick.
    let numeric: Vec<_> = svg_texts(&svg)
        .into_iter()
        .filter_map(|(_, _, a, t)| t.parse::<f64>().ok().map(|v| (a, v)))
        .collect();
    let top_tick = |anchor: &str| {
        numeric
            .iter()
            .filter(|t| t.0 == anchor)
            .map(|t| t.1)
            .fold(f64::MIN, f64::max)
    };
    assert!((ax + bx * top_tick("middle") - xhi).abs() <= 1.5);
    assert!((ay + by * top_tick("end") - ylo).abs() <= 1.5);
    // The legend box (light grey closed polyline) holds line samples; skip it.
    let polylines = svg_polylines(&svg);
    let legend = polylines
        .iter()
        .find(|(stroke, p)| stroke == "#BEBEBE" && p.len() == 5)
        .map(|(_, p)| {
            let xs = p.iter().map(|q| q.0);
            let ys = p.iter().map(|q| q.1);
            (
                xs.clone().fold(f64::MAX, f64::min),
                xs.fold(f64::MIN, f64::max),
                ys.clone().fold(f64::MAX, f64::min),
                ys.fold(f64::MIN, f64::max),
            )
        })
        .expect("legend box");
    let in_legend =
        |&(x, y): &(f64, f64)| x >= legend.0 && x <= legend.1 && y >= legend.2 && y <= legend.3;
    let mut ref_points = 0;
    // Dashed reference lines are drawn in grey, as many short polylines.
    for (stroke, pts) in polylines {
        if !(stroke == "#5A5A5A" || stroke == "#828282") || pts.iter().all(in_legend) {
            continue;
        }
        for (x, y) in pts {
            ref_points += 1;
            assert!(
                x >= xlo - 2.0 && x <= xhi + 2.0,
                "x {x} outside {xlo}..{xhi}"
            );
            assert!(
                y >= ylo - 2.0 && y <= yhi + 2.0,
                "y {y} outside {ylo}..{yhi}"
            );
        }
    }
    assert!(
        ref_points > 10,
        "reference lines drawn ({ref_points} points)"
    );
}

#[test]
fn many_loops_get_distinct_colours_and_one_legend_entry_per_marker_kind() {
    let loops: Vec<PvLoop> = (0..5)
        .map(|i| {
            let s = i as f64;
            physiological_loop(
                &format!("Stage {}", i + 1),
                150.0 - 12.0 * s,
                80.0 - 8.0 * s,
                105.0 - 6.0 * s,
            )
        })
        .collect();
    let refs = reference_lines();
    let plot = PvPlot {
        chamber: "LV",
        title: "Five stages",
        loops: &loops,
        reference_lines: &refs,
    };
    let (_dir, path) = render(ImageFormat::Svg, &plot, DEFAULT_SIZE_PX);
    let svg = std::fs::read_to_string(&path).unwrap();
    // Loops are the long polylines (thinned to ~2 px spacing, so not every
    // sample is kept); axes, ticks, dashes and legend samples have 2-5 points.
    let strokes: Vec<String> = svg_polylines(&svg)
        .into_iter()
        .filter(|(_, p)| p.len() > 20)
        .map(|(s, _)| s)
        .collect();
    assert_eq!(strokes.len(), 5, "one polyline per loop");
    let mut distinct = strokes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "{strokes:?}");
    let texts: Vec<String> = svg_texts(&svg).into_iter().map(|t| t.3).collect();
    assert_eq!(texts.iter().filter(|t| *t == "End-diastole").count(), 1);
    assert_eq!(texts.iter().filter(|t| *t == "End-systole").count(), 1);
    for i in 1..=5 {
        assert!(texts.contains(&format!("Stage {i}")));
    }
}

#[test]
fn bad_inputs_are_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.png");
    let check = |plot: &PvPlot, size: (u32, u32), what: &str| -> PlotError {
        for format in [ImageFormat::Png, ImageFormat::Svg] {
            let err = write_pv_plot(&path, plot, format, size).expect_err(what);
            let msg = err.to_string();
            assert!(msg.contains(&path.display().to_string()), "{what}: {msg}");
            assert!(!path.exists(), "{what}: nothing written");
        }
        write_pv_plot(&path, plot, ImageFormat::Svg, size).unwrap_err()
    };

    let no_loops = PvPlot {
        chamber: "LV",
        title: "t",
        loops: &[],
        reference_lines: &[],
    };
    assert!(matches!(
        check(&no_loops, DEFAULT_SIZE_PX, "no loops"),
        PlotError::EmptyData { .. }
    ));

    let mut empty = rect_loop("empty");
    empty.volume_ml.clear();
    empty.pressure_mmhg.clear();
    let loops = [empty];
    let plot = PvPlot {
        chamber: "LV",
        title: "t",
        loops: &loops,
        reference_lines: &[],
    };
    assert!(matches!(
        check(&plot, DEFAULT_SIZE_PX, "empty loop"),
        PlotError::EmptyData { .. }
    ));

    let mut mismatch = rect_loop("mismatch");
    mismatch.pressure_mmhg.pop();
    let loops = [mismatch];
    let plot = PvPlot {
        chamber: "LV",
        title: "t",
        loops: &loops,
        reference_lines: &[],
    };
    assert!(matches!(
        check(&plot, DEFAULT_SIZE_PX, "mismatch"),
        PlotError::LengthMismatch { .. }
    ));

    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut l = rect_loop("nan volume");
        l.volume_ml[2] = bad;
        let loops = [l];
        let plot = PvPlot {
            chamber: "LV",
            title: "t",
            loops: &loops,
            reference_lines: &[],
        };
        assert!(matches!(
            check(&plot, DEFAULT_SIZE_PX, "bad volume"),
            PlotError::NonFinite { .. }
        ));

        let mut l = rect_loop("nan pressure");
        l.pressure_mmhg[0] = bad;
        let loops = [l];
        let plot = PvPlot {
            chamber: "LV",
            title: "t",
            loops: &loops,
            reference_lines: &[],
        };
        assert!(matches!(
            check(&plot, DEFAULT_SIZE_PX, "bad pressure"),
            PlotError::NonFinite { .. }
        ));

        let mut l = rect_loop("nan ES");
        l.end_systole = Some((50.0, bad));
        let loops = [l];
        let plot = PvPlot {
            chamber: "LV",
            title: "t",
            loops: &loops,
            reference_lines: &[],
        };
        assert!(matches!(
            check(&plot, DEFAULT_SIZE_PX, "bad ES"),
            PlotError::NonFinite { .. }
        ));

        let loops = [rect_loop("ok")];
        let refs = [Curve {
            label: "ESPVR".into(),
            points: vec![(0.0, 0.0), (bad, 10.0)],
        }];
        let plot = PvPlot {
            chamber: "LV",
            title: "t",
            loops: &loops,
            reference_lines: &refs,
        };
        assert!(matches!(
            check(&plot, DEFAULT_SIZE_PX, "bad reference"),
            PlotError::NonFinite { .. }
        ));
    }

    for huge in [1e12, -1e300, f64::MAX] {
        let mut l = rect_loop("huge");
        l.pressure_mmhg[1] = huge;
        let loops = [l];
        let plot = PvPlot {
            chamber: "LV",
            title: "t",
            loops: &loops,
            reference_lines: &[],
        };
        assert!(matches!(
            check(&plot, DEFAULT_SIZE_PX, "huge value"),
            PlotError::OutOfRange { .. }
        ));
    }

    let loops = [rect_loop("ok")];
    let refs = [Curve {
        label: "EDPVR".into(),
        points: vec![],
    }];
    let plot = PvPlot {
        chamber: "LV",
        title: "t",
        loops: &loops,
        reference_lines: &refs,
    };
    assert!(matches!(
        check(&plot, DEFAULT_SIZE_PX, "empty reference"),
        PlotError::EmptyData { .. }
    ));

    let plot = PvPlot {
        chamber: "LV",
        title: "t",
        loops: &loops,
        reference_lines: &[],
    };
    for size in [(0, 900), (1200, 0), (50, 50), (20_000, 900)] {
        assert!(matches!(
            check(&plot, size, "size"),
            PlotError::InvalidSize { .. }
        ));
    }
}

#[test]
fn unwritable_path_is_an_io_error_naming_the_path() {
    let loops = [rect_loop("ok")];
    let plot = PvPlot {
        chamber: "LV",
        title: "t",
        loops: &loops,
        reference_lines: &[],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("pv.svg");
    let err = write_pv_plot(&path, &plot, ImageFormat::Svg, DEFAULT_SIZE_PX).unwrap_err();
    assert!(matches!(err, PlotError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn degenerate_but_finite_data_still_render() {
    // A single sample, a flat line and negative pressures are all drawable.
    let cases = [
        (vec![80.0], vec![40.0]),
        (vec![60.0, 60.0, 60.0], vec![5.0, 5.0, 5.0]),
        (vec![50.0, 120.0, 120.0, 50.0], vec![-8.0, -8.0, 90.0, 90.0]),
        (vec![1e-300, 2e-300, 0.0], vec![0.0, 1e-12, 3e-9]),
        (vec![-1e9, 1e9], vec![1e9, -1e9]),
        (vec![-50.0, -20.0, -20.0], vec![-30.0, -30.0, -1.0]),
    ];
    for (v, p) in cases {
        let loops = [PvLoop {
            label: "odd".into(),
            volume_ml: v,
            pressure_mmhg: p,
            end_diastole: None,
            end_systole: None,
        }];
        let plot = PvPlot {
            chamber: "LV",
            title: "",
            loops: &loops,
            reference_lines: &[],
        };
        for format in [ImageFormat::Png, ImageFormat::Svg] {
            let (_dir, path) = render(format, &plot, (400, 300));
            assert!(std::fs::metadata(&path).unwrap().len() > 100);
        }
    }
}

/// Writes sample pictures for a person to look at:
/// `IMPELLA_SIM_PLOT_SAMPLES=/tmp/pv cargo test --test plot_files -- --ignored`.
#[test]
#[ignore]
fn write_samples() {
    let dir = std::env::var_os("IMPELLA_SIM_PLOT_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("impella-sim-plot-samples"));
    std::fs::create_dir_all(&dir).unwrap();
    let refs = reference_lines();
    let single = [physiological_loop(
        "Baseline (no support)",
        140.0,
        70.0,
        105.0,
    )];
    let stages: Vec<PvLoop> = [
        ("No support", 0.0),
        ("P2", 1.0),
        ("P4", 2.0),
        ("P6", 3.0),
        ("P8", 4.0),
    ]
    .iter()
    .map(|&(name, s)| physiological_loop(name, 150.0 - 14.0 * s, 85.0 - 10.0 * s, 100.0 - 5.0 * s))
    .collect();
    let write = |name: &str, plot: &PvPlot| {
        for format in [ImageFormat::Png, ImageFormat::Svg] {
            let path: PathBuf = dir.join(format!("{name}.{format}"));
            write_pv_plot(&path, plot, format, DEFAULT_SIZE_PX).unwrap();
            eprintln!(
                "wrote {} ({} bytes)",
                path.display(),
                std::fs::metadata(&path).unwrap().len()
            );
        }
    };
    write(
        "single",
        &PvPlot {
            chamber: "LV",
            title: "Cardiogenic shock, no mechanical support",
            loops: &single,
            reference_lines: &refs,
        },
    );
    write(
        "stages",
        &PvPlot {
            chamber: "LV",
            title: "Impella CP: performance levels P2–P8",
            loops: &stages,
            reference_lines: &refs,
        },
    );
    let ten = ten_levels();
    write(
        "levels",
        &PvPlot {
            chamber: "LV",
            title: "Impella CP in SCAI C shock: P0–P9",
            loops: &ten,
            reference_lines: &refs,
        },
    );
    let (panels, events) = waveform_panels();
    let (tl_panels, tl_events) = timeline_panels();
    let series = sweep_series();
    let (xs, ys, vs) = heatmap_grid();
    let values = cohort_values(200);
    for format in [ImageFormat::Png, ImageFormat::Svg] {
        let path = |name: &str| dir.join(format!("{name}.{format}"));
        write_waveforms(
            &path("waveforms"),
            &StackedPlot {
                title: "Impella CP at P8: last three beats",
                panels: &panels,
                events: &events,
            },
            format,
            stacked_size_px(panels.len()),
        )
        .unwrap();
        write_timeline(
            &path("timeline"),
            &StackedPlot {
                title: "Weaning course: P8 to P2 over 24 h",
                panels: &tl_panels,
                events: &tl_events,
            },
            format,
            stacked_size_px(tl_panels.len()),
        )
        .unwrap();
        write_xy_chart(
            &path("xy"),
            &XyChart {
                title: "LVEDP against P-level",
                x_label: "P-level",
                y_label: "LVEDP (mmHg)",
                series: &series,
                x_categories: &[],
            },
            format,
            DEFAULT_SIZE_PX,
        )
        .unwrap();
        write_heatmap(
            &path("heatmap"),
            &Heatmap {
                title: "LVEDP over P-level and LV contractility",
                x_label: "P-level",
                y_label: "LV Ees (mmHg/mL)",
                colour_label: "LVEDP (mmHg)",
                x_values: &xs,
                y_values: &ys,
                values: &vs,
                show_values: true,
            },
            format,
            DEFAULT_SIZE_PX,
        )
        .unwrap();
        write_histogram(
            &path("histogram"),
            &Histogram {
                title: "LVEDP across 200 virtual patients",
                x_label: "LVEDP (mmHg)",
                values: &values,
                bins: None,
            },
            format,
            DEFAULT_SIZE_PX,
        )
        .unwrap();
        for name in ["waveforms", "timeline", "xy", "heatmap", "histogram"] {
            let p = path(name);
            eprintln!(
                "wrote {} ({} bytes)",
                p.display(),
                std::fs::metadata(&p).unwrap().len()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Synthetic data for the other pictures.

/// Ten loops P0..P9: support unloads the LV step by step.
fn ten_levels() -> Vec<PvLoop> {
    (0..10)
        .map(|k| {
            let s = k as f64;
            physiological_loop(
                &format!("P{k}"),
                160.0 - 4.0 * s,
                120.0 - 3.0 * s,
                95.0 - 3.5 * s,
            )
        })
        .collect()
}

const T0: f64 = 47.1;

/// Three beats at 94 bpm sampled every ms from `T0`: pressures, flows and
/// console signals (placement signal mmHg, motor-current proxy mN·m on a
/// right axis), and three events.
fn waveform_panels() -> (Vec<Panel>, Vec<EventMarker>) {
    let period = 60.0 / 94.0;
    let n = (3.0 * period / 0.001) as usize;
    let tau = 2.0 * std::f64::consts::PI;
    let mut cols: Vec<Vec<(f64, f64)>> = vec![Vec::new(); 8];
    for i in 0..=n {
        let t = i as f64 * 0.001;
        let phase = (t % period) / period;
        let act = if phase < 0.45 {
            (std::f64::consts::PI * phase / 0.45).sin().powi(2)
        } else {
            0.0
        };
        let lv = 10.0 + 78.0 * act;
        let ao = (74.0 + 8.0 * (-phase * 3.0).exp()).max(lv);
        let av = if lv >= ao { 7.0 * act } else { 0.0 };
        let x = T0 + t;
        let values = [
            lv,
            ao,
            18.0 + 3.0 * (tau * phase).sin(),
            5.0 + 2.0 * (tau * phase + 1.0).sin(),
            4.2 - 0.025 * (ao - lv),
            av,
            ao,
            0.02 + 0.0012 * (ao - lv),
        ];
        for (c, v) in cols.iter_mut().zip(values) {
            c.push((x, v));
        }
    }
    let mut cols = cols.into_iter();
    let mut next = || cols.next().unwrap();
    let panels = vec![
        Panel::new(
            "Pressure (mmHg)",
            vec![
                Series::line("LV pressure", next()),
                Series::line("Aortic pressure", next()),
            ],
        ),
        Panel::new(
            "Pressure (mmHg)",
            vec![
                Series::line("LA pressure", next()),
                Series::line("RA pressure", next()),
            ],
        ),
        Panel::new(
            "Flow (L/min)",
            vec![
                Series::line("Pump flow", next()),
                Series::line("Aortic-valve flow", next()),
            ],
        ),
        Panel::new(
            "Placement (mmHg)",
            vec![
                Series::line("Placement signal", next()),
                Series::line("Motor-current proxy", next()).on_right_axis(),
            ],
        )
        .with_right_axis("Torque (mN·m)"),
    ];
    let events = vec![
        EventMarker::new(T0 + 0.9, "Suction"),
        EventMarker::new(T0 + 1.0, "Alarm cleared"),
        EventMarker::new(T0 + 3.0 * period - 0.05, "End"),
    ];
    (panels, events)
}

/// A 24 h weaning course: P-level steps down, MAP, CI and LVEDP respond.
fn timeline_panels() -> (Vec<Panel>, Vec<EventMarker>) {
    let hours: Vec<f64> = (0..=24 * 12).map(|i| i as f64 / 12.0).collect();
    let level = |h: f64| 8.0 - 2.0 * (h / 6.0).floor().min(3.0);
    let wobble = |h: f64| (h * 1.7).sin() * 0.6 + (h * 0.37).cos() * 0.4;
    let series = |f: &dyn Fn(f64) -> f64| hours.iter().map(|&h| (h, f(h))).collect::<Vec<_>>();
    let panels = vec![
        Panel::new("P-level", vec![Series::step("Impella CP", series(&level))]),
        Panel::new(
            "MAP (mmHg)",
            vec![Series::line(
                "MAP",
                series(&|h| 62.0 + 2.0 * level(h) + wobble(h)),
            )],
        ),
        Panel::new(
            "CI (L/min/m²)",
            vec![Series::line(
                "Cardiac index",
                series(&|h| 1.6 + 0.12 * level(h) + 0.05 * wobble(h)),
            )],
        ),
        Panel::new(
            "LVEDP (mmHg)",
            vec![Series::line(
                "LVEDP",
                series(&|h| 26.0 - 1.2 * level(h) + 0.5 * wobble(h)),
            )],
        ),
    ];
    let events = vec![
        EventMarker::new(6.0, "Wean to P6"),
        EventMarker::new(12.0, "Wean to P4"),
        EventMarker::new(18.0, "Wean to P2"),
        EventMarker::new(21.5, "LVEDP > 22 mmHg"),
    ];
    (panels, events)
}

/// LVEDP against P-level for three devices.
fn sweep_series() -> Vec<Curve> {
    [
        ("Impella CP", 1.0),
        ("Impella 5.0", 1.5),
        ("Impella 5.5", 1.8),
    ]
    .iter()
    .map(|&(name, k)| {
        Curve::new(
            name,
            (0..10)
                .map(|l| {
                    let l = l as f64;
                    (l, 24.0 - k * 1.1 * l + 0.04 * k * l * l)
                })
                .collect(),
        )
    })
    .collect()
}

/// LVEDP over P-level (columns) and Ees (rows), one cell without a value.
fn heatmap_grid() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let xs: Vec<f64> = (0..10).map(|l| l as f64).collect();
    let ys: Vec<f64> = (0..7).map(|k| 0.4 + 0.2 * k as f64).collect();
    let mut vs = Vec::new();
    for &e in &ys {
        for &l in &xs {
            vs.push(30.0 - 8.0 * e - 1.2 * l + 0.05 * l * l);
        }
    }
    vs[3] = f64::NAN;
    (xs, ys, vs)
}

/// A deterministic, roughly normal cohort (mean 18, sd 4).
fn cohort_values(n: usize) -> Vec<f64> {
    let mut seed = 12345u64;
    let mut uniform = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let z = (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos();
            18.0 + 4.0 * z
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Waveforms, timelines, xy charts, heatmaps, histograms.

fn svg_size(svg: &str) -> (u32, u32) {
    let head = svg.trim_start();
    assert!(head.starts_with("<svg"), "{head:.80}");
    assert!(svg.trim_end().ends_with("</svg>"));
    let open = &head[..head.find('>').unwrap()];
    (
        attr(open, "width").unwrap().parse().unwrap(),
        attr(open, "height").unwrap().parse().unwrap(),
    )
}

fn texts(svg: &str) -> Vec<String> {
    svg_texts(svg).into_iter().map(|t| t.3).collect()
}

/// `<rect>` elements: (x, y, width, height, fill).
fn svg_rects(svg: &str) -> Vec<(f64, f64, f64, f64, String)> {
    svg.lines()
        .filter(|l| l.trim_start().starts_with("<rect"))
        .map(|l| {
            let num = |n: &str| attr(l, n).unwrap().parse::<f64>().unwrap();
            (
                num("x"),
                num("y"),
                num("width"),
                num("height"),
                attr(l, "fill").unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Every new picture, as (name, PNG/SVG writer) pairs over shared data.
#[test]
fn every_picture_has_the_requested_size_in_png_and_svg() {
    let (panels, events) = waveform_panels();
    let (tl_panels, tl_events) = timeline_panels();
    let series = sweep_series();
    let (xs, ys, vs) = heatmap_grid();
    let values = cohort_values(60);
    let waves = StackedPlot {
        title: "Waveforms",
        panels: &panels,
        events: &events,
    };
    let course = StackedPlot {
        title: "Course",
        panels: &tl_panels,
        events: &tl_events,
    };
    let xy = XyChart {
        title: "Sweep",
        x_label: "P-level",
        y_label: "LVEDP (mmHg)",
        series: &series,
        x_categories: &[],
    };
    let map = Heatmap {
        title: "Grid",
        x_label: "P-level",
        y_label: "LV Ees (mmHg/mL)",
        colour_label: "LVEDP (mmHg)",
        x_values: &xs,
        y_values: &ys,
        values: &vs,
        show_values: true,
    };
    let hist = Histogram {
        title: "Cohort",
        x_label: "LVEDP (mmHg)",
        values: &values,
        bins: None,
    };
    let dir = tempfile::tempdir().unwrap();
    type Writer<'a> =
        Box<dyn Fn(&std::path::Path, ImageFormat, (u32, u32)) -> Result<(), PlotError> + 'a>;
    let writers: Vec<(&str, Writer, (u32, u32))> = vec![
        (
            "waveforms",
            Box::new(|p, f, s| write_waveforms(p, &waves, f, s)),
            stacked_size_px(4),
        ),
        (
            "timeline",
            Box::new(|p, f, s| write_timeline(p, &course, f, s)),
            (1000, 1100),
        ),
        (
            "xy",
            Box::new(|p, f, s| write_xy_chart(p, &xy, f, s)),
            (800, 600),
        ),
        (
            "heatmap",
            Box::new(|p, f, s| write_heatmap(p, &map, f, s)),
            DEFAULT_SIZE_PX,
        ),
        (
            "histogram",
            Box::new(|p, f, s| write_histogram(p, &hist, f, s)),
            (640, 480),
        ),
    ];
    for (name, write, size) in &writers {
        // A temporary name: the format is the argument, not the extension.
        let png = dir.path().join(format!("{name}.png.partial"));
        write(&png, ImageFormat::Png, *size).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(png_size(&bytes), *size, "{name}");
        assert!(
            bytes.len() < (size.0 * size.1) as usize,
            "{name}: compressed"
        );
        let svg = dir.path().join(format!("{name}.svg"));
        write(&svg, ImageFormat::Svg, *size).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert_eq!(svg_size(&text), *size, "{name}");
        assert!(text.contains("font-family=\"DejaVu Sans, sans-serif\""));
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 10);
}

#[test]
fn waveform_panels_share_the_time_axis_and_label_everything() {
    let (panels, events) = waveform_panels();
    let plot = StackedPlot {
        title: "Impella CP at P8",
        panels: &panels,
        events: &events,
    };
    let size = stacked_size_px(panels.len());
    let svg = waveforms_svg(&plot, size).unwrap();
    assert_eq!(svg_size(&svg), size);
    let all = texts(&svg);
    for want in [
        "Impella CP at P8",
        "Time (s)",
        "Flow (L/min)",
        "Placement (mmHg)",
        "Torque (mN·m)",
        "LV pressure",
        "Aortic pressure",
        "LA pressure",
        "RA pressure",
        "Pump flow",
        "Aortic-valve flow",
        "Placement signal",
        "Motor-current proxy (right axis)",
        "Suction",
        "Alarm cleared",
        "End",
    ] {
        assert!(all.iter().any(|t| t == want), "{want:?} in {all:?}");
    }
    assert_eq!(all.iter().filter(|t| *t == "Pressure (mmHg)").count(), 2);
    assert_eq!(all.iter().filter(|t| *t == "Time (s)").count(), 1);

    // x tick labels (centred numbers) appear once, under the bottom panel,
    // and map time linearly; every data polyline spans the same time range.
    let (x_map, _) = {
        let numeric: Vec<(f64, f64, f64)> = svg_texts(&svg)
            .into_iter()
            .filter(|t| t.2 == "middle")
            .filter_map(|(x, y, _, t)| t.parse::<f64>().ok().map(|v| (v, x, y)))
            .collect();
        assert!(numeric.len() >= 3, "{numeric:?}");
        let row = numeric[0].2;
        assert!(numeric.iter().all(|t| (t.2 - row).abs() < 1.0), "one row");
        let pairs: Vec<(f64, f64)> = numeric.iter().map(|t| (t.0, t.1)).collect();
        (fit(&pairs), row)
    };
    let x_of = |t: f64| x_map.0 + x_map.1 * t;
    let t_end = T0 + 3.0 * 60.0 / 94.0;
    let data: Vec<_> = svg_polylines(&svg)
        .into_iter()
        .filter(|(_, p)| p.len() > 20)
        .collect();
    assert_eq!(data.len(), 8, "one polyline per series");
    for (stroke, pts) in &data {
        let first = pts.first().unwrap().0;
        let last = pts.last().unwrap().0;
        assert!(
            (first - x_of(T0)).abs() <= 1.5,
            "{stroke}: {first} vs {}",
            x_of(T0)
        );
        assert!((last - x_of(t_end)).abs() <= 1.5, "{stroke}: {last}");
        // Drawn left to right, in time order.
        assert!(pts.windows(2).all(|w| w[1].0 >= w[0].0), "{stroke}");
    }
    // Two series per panel, in two colours.
    assert_eq!(data.iter().filter(|(s, _)| s == "#0072B2").count(), 4);
    assert_eq!(data.iter().filter(|(s, _)| s == "#D55E00").count(), 4);
    // Panels are stacked: each panel's first series lies below the previous.
    let tops: Vec<f64> = data
        .iter()
        .filter(|(s, _)| s == "#0072B2")
        .map(|(_, p)| p.iter().map(|q| q.1).fold(f64::MAX, f64::min))
        .collect();
    assert!(tops.windows(2).all(|w| w[1] > w[0]), "{tops:?}");
}

#[test]
fn timeline_steps_hold_each_setting_until_the_next() {
    let pts = vec![
        (0.0, 8.0),
        (6.0, 6.0),
        (12.0, 4.0),
        (18.0, 2.0),
        (24.0, 2.0),
    ];
    let panels = [
        Panel::new("P-level", vec![Series::step("Impella CP", pts)]),
        Panel::new(
            "MAP (mmHg)",
            vec![Series::line(
                "MAP",
                (0..=24)
                    .map(|h| (h as f64, 70.0 - 0.3 * h as f64))
                    .collect(),
            )],
        ),
    ];
    let events = [EventMarker::new(21.5, "MAP < 65 mmHg")];
    let plot = StackedPlot {
        title: "",
        panels: &panels,
        events: &events,
    };
    let svg = impella_sim::output::plot::timeline_svg(&plot, stacked_size_px(2)).unwrap();
    let all = texts(&svg);
    assert!(all.iter().any(|t| t == "Time (h)"));
    // SVG escapes "<".
    assert!(all.iter().any(|t| t == "MAP &lt; 65 mmHg"), "{all:?}");
    // Hour ticks on divisors of a day.
    let ticks: Vec<f64> = svg_texts(&svg)
        .into_iter()
        .filter(|t| t.2 == "middle")
        .filter_map(|t| t.3.parse().ok())
        .collect();
    assert!(ticks.len() >= 3, "{ticks:?}");
    assert!(ticks.iter().all(|t| t % 3.0 == 0.0), "{ticks:?}");
    assert!(ticks.contains(&0.0) && ticks.contains(&24.0), "{ticks:?}");
    // The step line: only horizontal and vertical segments, 4 levels.
    let (_, step) = svg_polylines(&svg)
        .into_iter()
        .filter(|(s, p)| s == "#0072B2" && p.len() >= 6)
        .min_by(|a, b| {
            let top = |p: &Vec<(f64, f64)>| p.iter().map(|q| q.1).fold(f64::MAX, f64::min);
            top(&a.1).total_cmp(&top(&b.1))
        })
        .expect("step polyline");
    assert!(step
        .windows(2)
        .all(|w| (w[0].0 - w[1].0).abs() < 0.01 || (w[0].1 - w[1].1).abs() < 0.01));
    let mut levels: Vec<i64> = step.iter().map(|q| q.1.round() as i64).collect();
    levels.dedup();
    assert_eq!(levels.len(), 4, "{step:?}");
}

#[test]
fn xy_chart_points_follow_the_input_in_order() {
    // Deliberately not sorted by x: the line must follow the given order.
    let pts = vec![(0.0, 20.0), (2.0, 14.0), (1.0, 17.0), (3.0, 12.5)];
    let series = [
        Curve::new("Impella CP", pts.clone()),
        Curve::new("Impella 5.5", vec![(0.0, 22.0), (3.0, 10.0)]),
    ];
    let chart = XyChart {
        title: "LVEDP against P-level",
        x_label: "P-level",
        y_label: "LVEDP (mmHg)",
        series: &series,
        x_categories: &[],
    };
    let svg = xy_chart_svg(&chart, DEFAULT_SIZE_PX).unwrap();
    let all = texts(&svg);
    for want in [
        "LVEDP against P-level",
        "P-level",
        "LVEDP (mmHg)",
        "Impella CP",
        "Impella 5.5",
    ] {
        assert_eq!(all.iter().filter(|t| *t == want).count(), 1, "{want}");
    }
    // Ticks at the swept values themselves.
    let x_ticks: Vec<f64> = svg_texts(&svg)
        .into_iter()
        .filter(|t| t.2 == "middle")
        .filter_map(|t| t.3.parse().ok())
        .collect();
    assert_eq!(x_ticks, vec![0.0, 1.0, 2.0, 3.0]);
    let ((ax, bx), (ay, by)) = axis_mappings(&svg);
    let line = svg_polylines(&svg)
        .into_iter()
        .find(|(s, p)| s == "#0072B2" && p.len() == 4)
        .map(|(_, p)| p)
        .expect("series polyline with the input's 4 points");
    for (&(px, py), &(x, y)) in line.iter().zip(&pts) {
        assert!((px - (ax + bx * x)).abs() <= 1.5, "x {x}: {px}");
        assert!((py - (ay + by * y)).abs() <= 1.5, "y {y}: {py}");
    }
    // One filled marker per point: circles for the first series.
    let circles = svg
        .lines()
        .filter(|l| l.trim_start().starts_with("<circle") && l.contains("fill=\"#0072B2\""))
        .count();
    assert_eq!(circles, 4 + 1, "four points and the legend sample");
}

#[test]
fn heatmap_colours_cells_on_viridis_and_greys_missing_ones() {
    let (xs, ys, vs) = heatmap_grid();
    let map = Heatmap {
        title: "LVEDP",
        x_label: "P-level",
        y_label: "LV Ees (mmHg/mL)",
        colour_label: "LVEDP (mmHg)",
        x_values: &xs,
        y_values: &ys,
        values: &vs,
        show_values: true,
    };
    let svg = impella_sim::output::plot::heatmap_svg(&map, DEFAULT_SIZE_PX).unwrap();
    let rects = svg_rects(&svg);
    // The lowest value is dark purple, the highest yellow, the missing grey.
    let finite: Vec<f64> = vs.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let cell_w = rects
        .iter()
        .filter(|r| r.4 == "#440154" || r.4 == "#FDE725")
        .map(|r| r.2)
        .fold(0.0, f64::max);
    assert!(cell_w > 50.0, "cells are large: {cell_w}");
    assert_eq!(
        rects
            .iter()
            .filter(|r| r.4 == "#D7D7D7" && r.2 > 40.0)
            .count(),
        1,
        "one missing cell"
    );
    // Cells: the grid's rectangles (bigger than the colour bar's slices).
    let cells: Vec<_> = rects
        .iter()
        .filter(|r| (r.2 - cell_w).abs() < 3.0 && r.3 > 20.0)
        .collect();
    assert_eq!(cells.len(), xs.len() * ys.len());
    // The value printed in the darkest cell is the minimum.
    let all = texts(&svg);
    assert!(all.iter().any(|t| *t == format!("{lo:.1}")), "{lo}");
    assert!(all.iter().any(|t| *t == format!("{hi:.1}")), "{hi}");
    for want in [
        "LVEDP (mmHg)",
        "no value",
        "LV Ees (mmHg/mL)",
        "1.6",
        "0.4",
        "9",
    ] {
        assert!(all.iter().any(|t| t == want), "{want:?}");
    }
    // Row 0 is at the bottom: the missing cell (row 0, column 3) is low.
    let grey = rects
        .iter()
        .find(|r| r.4 == "#D7D7D7" && r.2 > 40.0)
        .unwrap();
    let lowest = cells.iter().map(|r| r.1).fold(f64::MIN, f64::max);
    assert!((grey.1 - lowest).abs() < 2.0);
}

#[test]
fn histogram_bars_count_every_case_and_mark_the_median() {
    let values = cohort_values(150);
    let hist = Histogram {
        title: "Cohort",
        x_label: "LVEDP (mmHg)",
        values: &values,
        bins: Some(12),
    };
    let svg = histogram_svg(&hist, DEFAULT_SIZE_PX).unwrap();
    let (_, (_, by)) = axis_mappings(&svg);
    let bars: Vec<_> = svg_rects(&svg)
        .into_iter()
        .filter(|r| r.4 == "#31688E" && r.3 > 2.0 && r.2 > 40.0) // not the legend swatch
        .collect();
    assert!(bars.len() >= 6 && bars.len() <= 24, "{} bars", bars.len());
    let counted: f64 = bars.iter().map(|r| ((r.3 + 1.0) / -by).round()).sum();
    assert_eq!(counted, 150.0);
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let median = 0.5 * (sorted[74] + sorted[75]);
    let all = texts(&svg);
    assert!(
        all.iter().any(|t| *t == format!("Median {median:.1}")),
        "{all:?}"
    );
    assert!(all.iter().any(|t| t == "150 cases"));
    assert!(all.iter().any(|t| t == "Cases"));
}

#[test]
fn ten_loops_get_an_ordered_ramp_and_a_readable_legend() {
    let loops = ten_levels();
    let refs = reference_lines();
    let plot = PvPlot {
        chamber: "LV",
        title: "P0–P9",
        loops: &loops,
        reference_lines: &refs,
    };
    let svg = pv_plot_svg(&plot, DEFAULT_SIZE_PX).unwrap();
    let strokes: Vec<String> = svg_polylines(&svg)
        .into_iter()
        .filter(|(_, p)| p.len() > 20)
        .map(|(s, _)| s)
        .collect();
    assert_eq!(strokes.len(), 10);
    // Each later level is lighter (reads in greyscale print).
    let lum = |hex: &str| {
        let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as f64;
        0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5)
    };
    assert!(
        strokes.windows(2).all(|w| lum(&w[1]) > lum(&w[0])),
        "{strokes:?}"
    );
    // Every level once in the legend, in text big enough for a slide.
    for k in 0..10 {
        let want = format!("P{k}");
        let hits: Vec<_> = svg
            .lines()
            .zip(svg.lines().skip(1))
            .filter(|(_, content)| content.trim() == want)
            .map(|(open, _)| attr(open, "font-size").unwrap().parse::<f64>().unwrap())
            .collect();
        assert_eq!(hits.len(), 1, "{want}");
        assert!(hits[0] >= 20.0, "{want} font size {}", hits[0]);
    }
}

#[test]
fn bad_chart_inputs_are_errors_naming_the_file_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.svg");
    let expect = |r: Result<(), PlotError>, what: &str| -> PlotError {
        let err = r.expect_err(what);
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{what}: {err}"
        );
        assert!(!path.exists(), "{what}: nothing written");
        err
    };
    let f = ImageFormat::Svg;
    let size = DEFAULT_SIZE_PX;

    let none = StackedPlot {
        title: "t",
        panels: &[],
        events: &[],
    };
    assert!(matches!(
        expect(write_waveforms(&path, &none, f, size), "no panels"),
        PlotError::EmptyData { .. }
    ));
    let panels = [Panel::new(
        "P (mmHg)",
        vec![Series::line("LV", vec![(0.0, 1.0), (1.0, f64::NAN)])],
    )];
    let plot = StackedPlot {
        title: "t",
        panels: &panels,
        events: &[],
    };
    assert!(matches!(
        expect(write_timeline(&path, &plot, f, size), "NaN sample"),
        PlotError::NonFinite { .. }
    ));
    let panels = [Panel::new("P (mmHg)", vec![Series::line("LV", vec![])])];
    let plot = StackedPlot {
        title: "t",
        panels: &panels,
        events: &[],
    };
    assert!(matches!(
        expect(write_waveforms(&path, &plot, f, size), "empty series"),
        PlotError::EmptyData { .. }
    ));
    let ok = vec![
        Panel::new(
            "P (mmHg)",
            vec![Series::line("LV", vec![(0.0, 1.0), (1.0, 2.0)])]
        );
        30
    ];
    let plot = StackedPlot {
        title: "t",
        panels: &ok,
        events: &[EventMarker::new(f64::INFINITY, "never")],
    };
    assert!(matches!(
        expect(write_waveforms(&path, &plot, f, size), "infinite event"),
        PlotError::NonFinite { .. }
    ));
    let plot = StackedPlot {
        title: "t",
        panels: &ok,
        events: &[],
    };
    assert!(matches!(
        expect(
            write_waveforms(&path, &plot, f, (400, 300)),
            "30 panels in 300 px"
        ),
        PlotError::Draw { .. }
    ));

    assert!(matches!(
        expect(
            write_xy_chart(
                &path,
                &XyChart {
                    title: "t",
                    x_label: "x",
                    y_label: "y",
                    series: &[],
                    x_categories: &[],
                },
                f,
                size
            ),
            "no series"
        ),
        PlotError::EmptyData { .. }
    ));
    let series = [Curve::new("a", vec![(1.0, 1e12)])];
    assert!(matches!(
        expect(
            write_xy_chart(
                &path,
                &XyChart {
                    title: "t",
                    x_label: "x",
                    y_label: "y",
                    series: &series,
                    x_categories: &[],
                },
                f,
                size
            ),
            "huge value"
        ),
        PlotError::OutOfRange { .. }
    ));

    let heat = |xs: &[f64], ys: &[f64], vs: &[f64]| {
        write_heatmap(
            &path,
            &Heatmap {
                title: "t",
                x_label: "x",
                y_label: "y",
                colour_label: "z",
                x_values: xs,
                y_values: ys,
                values: vs,
                show_values: false,
            },
            f,
            size,
        )
    };
    assert!(matches!(
        expect(heat(&[0.0, 1.0], &[0.0], &[1.0]), "value count"),
        PlotError::Inconsistent { .. }
    ));
    assert!(matches!(
        expect(heat(&[1.0, 0.0], &[0.0], &[1.0, 2.0]), "decreasing x"),
        PlotError::Inconsistent { .. }
    ));
    assert!(matches!(
        expect(
            heat(&[0.0, 1.0], &[0.0], &[f64::NAN, f64::NAN]),
            "all missing"
        ),
        PlotError::EmptyData { .. }
    ));
    assert!(matches!(
        expect(
            heat(&[0.0, 1.0], &[0.0], &[1.0, f64::INFINITY]),
            "infinite cell"
        ),
        PlotError::NonFinite { .. }
    ));
    heat(&[0.0, 1.0], &[0.0], &[1.0, f64::NAN]).expect("a missing cell is fine");
    std::fs::remove_file(&path).unwrap();

    let hist = |values: &[f64], bins| {
        write_histogram(
            &path,
            &Histogram {
                title: "t",
                x_label: "x",
                values,
                bins,
            },
            f,
            size,
        )
    };
    assert!(matches!(
        expect(hist(&[], None), "no values"),
        PlotError::EmptyData { .. }
    ));
    assert!(matches!(
        expect(hist(&[1.0, f64::NAN], None), "NaN value"),
        PlotError::NonFinite { .. }
    ));
    assert!(matches!(
        expect(hist(&[1.0], Some(0)), "zero bins"),
        PlotError::Inconsistent { .. }
    ));
    // One value, or all equal, still draws.
    hist(&[4.0, 4.0, 4.0], None).expect("equal values");
}

#[test]
fn svg_strings_equal_the_svg_files() {
    let (panels, events) = waveform_panels();
    let plot = StackedPlot {
        title: "Same",
        panels: &panels,
        events: &events,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.svg");
    write_waveforms(&path, &plot, ImageFormat::Svg, (1400, 1200)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        waveforms_svg(&plot, (1400, 1200)).unwrap()
    );
    let err = waveforms_svg(&plot, (10, 10)).unwrap_err();
    assert!(err.to_string().contains("<SVG string>"), "{err}");
}

/// Numeric x tick labels of a chart's SVG, left to right: (centre x, estimated half width).
/// Widths use DejaVu Sans's digit advance, 0.636 em (the SVG font-size is the em).
fn x_tick_labels(svg: &str) -> Vec<(f64, f64)> {
    let mut ticks = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text") {
        let tail = &rest[i..];
        let (open_end, close) = (tail.find('>').unwrap(), tail.find("</text>").unwrap());
        let (open, content) = (&tail[..open_end], tail[open_end + 1..close].trim());
        if attr(open, "text-anchor") == Some("middle") && content.parse::<f64>().is_ok() {
            let em: f64 = attr(open, "font-size").unwrap().parse().unwrap();
            let x: f64 = attr(open, "x").unwrap().parse().unwrap();
            ticks.push((x, 0.5 * 0.636 * em * content.chars().count() as f64));
        }
        rest = &tail[close..];
    }
    ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
    ticks
}

/// The numeric x tick labels span at least `share` of the picture's width and none overlap.
fn assert_axes_keep_their_room(svg: &str, width: u32, share: f64, what: &str) {
    let ticks = x_tick_labels(svg);
    assert!(ticks.len() >= 2, "{what}: {ticks:?}");
    let span = ticks[ticks.len() - 1].0 - ticks[0].0;
    assert!(
        span >= share * width as f64,
        "{what}: x ticks span {span} px of {width}"
    );
    for w in ticks.windows(2) {
        assert!(
            w[1].0 - w[0].0 >= w[0].1 + w[1].1,
            "{what}: tick labels overlap: {w:?}"
        );
    }
}

#[test]
fn long_legend_labels_never_squeeze_the_axes() {
    let long = "Impella CP at P8 in SCAI C LV-dominant shock (DanGer-like patient) ".repeat(3);
    // Zigzags fill the whole frame, so no corner is free and the legend goes beside it.
    let zigzag = |lift: f64| -> Vec<(f64, f64)> {
        (0..=60)
            .map(|i| (i as f64 * 2.0, lift + if i % 2 == 0 { 5.0 } else { 120.0 }))
            .collect()
    };
    let loops: Vec<PvLoop> = (0..3)
        .map(|k| {
            let pts = zigzag(k as f64);
            PvLoop {
                label: format!("{k}: {long}"),
                volume_ml: pts.iter().map(|p| p.0).collect(),
                pressure_mmhg: pts.iter().map(|p| p.1).collect(),
                end_diastole: None,
                end_systole: None,
            }
        })
        .collect();
    let series: Vec<Curve> = (0..3)
        .map(|k| Curve::new(format!("{k}: {long}"), zigzag(k as f64)))
        .collect();
    for size in [(1200, 900), (800, 600), (600, 450)] {
        let plot = PvPlot {
            title: &long,
            loops: &loops,
            reference_lines: &[],
            chamber: "LV",
        };
        let svg = pv_plot_svg(&plot, size).unwrap();
        assert_axes_keep_their_room(&svg, size.0, 0.45, &format!("PV {size:?}"));
        // The labels were shortened, not dropped.
        assert!(texts(&svg).iter().any(|t| t.starts_with("0: Impella CP")));
        assert!(texts(&svg).iter().any(|t| t.ends_with('…')));
        let chart = XyChart {
            title: "t",
            x_label: "x",
            y_label: "y",
            series: &series,
            x_categories: &[],
        };
        let svg = xy_chart_svg(&chart, size).unwrap();
        assert_axes_keep_their_room(&svg, size.0, 0.45, &format!("xy {size:?}"));
    }
}

#[test]
fn x_tick_labels_never_overlap() {
    // Wide numbers close together (a sweep's 12 values are its ticks): every other tick
    // (or fewer) is labelled.
    let series = [Curve::new(
        "",
        (0..12).map(|i| (1e6 + 0.5 + i as f64, i as f64)).collect(),
    )];
    let loops = [PvLoop {
        label: "wide".into(),
        volume_ml: vec![123_456.0, 987_654.0, 500_000.0],
        pressure_mmhg: vec![1.0, 2.0, 3.0],
        end_diastole: None,
        end_systole: None,
    }];
    for size in [(300, 900), (400, 900), (640, 480), (1200, 900)] {
        let chart = XyChart {
            title: "t",
            x_label: "x",
            y_label: "y",
            series: &series,
            x_categories: &[],
        };
        let svg = xy_chart_svg(&chart, size).unwrap();
        assert_axes_keep_their_room(&svg, size.0, 0.4, &format!("xy {size:?}"));
        let plot = PvPlot {
            title: "",
            loops: &loops,
            reference_lines: &[],
            chamber: "LV",
        };
        let svg = pv_plot_svg(&plot, size).unwrap();
        assert_axes_keep_their_room(&svg, size.0, 0.4, &format!("PV {size:?}"));
    }
}

#[test]
fn a_categorical_x_axis_names_its_ticks() {
    let names: Vec<String> = ["no device", "Impella CP P8", "Impella 5.5 P9"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let series: Vec<Curve> = names
        .iter()
        .enumerate()
        .map(|(k, n)| Curve::new(n.clone(), vec![((k + 1) as f64, 10.0 + k as f64)]))
        .collect();
    let chart = XyChart {
        title: "LVEDP by device",
        x_label: "Device",
        y_label: "LVEDP (mmHg)",
        series: &series,
        x_categories: &names,
    };
    let svg = xy_chart_svg(&chart, DEFAULT_SIZE_PX).unwrap();
    let all = svg_texts(&svg);
    let mut xs = Vec::new();
    for n in &names {
        // Each name once: under its tick, not in a legend.
        let at: Vec<_> = all.iter().filter(|t| &t.3 == n).collect();
        assert_eq!(at.len(), 1, "{n}: {at:?}");
        assert_eq!(at[0].2, "middle");
        xs.push(at[0].0);
    }
    assert!(xs.windows(2).all(|w| w[1] > w[0]), "{xs:?}");
    assert!(!texts(&svg).iter().any(|t| t == "1" || t == "2"));
    // Points off the categories are refused.
    let bad = [Curve::new("x", vec![(1.5, 1.0)])];
    let chart = XyChart {
        series: &bad,
        ..chart
    };
    assert!(matches!(
        xy_chart_svg(&chart, DEFAULT_SIZE_PX),
        Err(PlotError::Inconsistent { .. })
    ));
}
