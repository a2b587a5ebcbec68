//! Behaviour tests for the PV-loop picture writer (PNG and SVG).

use std::path::PathBuf;

use impella_sim::output::plot::{
    write_pv_plot, Curve, ImageFormat, PlotError, PvLoop, PvPlot, DEFAULT_SIZE_PX,
};

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

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

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "PNG too short");
    assert_eq!(&bytes[..8], &PNG_SIGNATURE, "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

fn render(format: ImageFormat, plot: &PvPlot, size: (u32, u32)) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("pv.{format}"));
    write_pv_plot(&path, plot, format, size).unwrap();
    (dir, path)
}

// ---------------------------------------------------------------------------
// A small reader for the SVG that plotters writes (one element per line).

fn attr<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = element.find(&key)? + key.len();
    let len = element[start..].find('"')?;
    Some(&element[start..start + len])
}

/// `<text>` elements: (x, y, text-anchor, content).
fn svg_texts(svg: &str) -> Vec<(f64, f64, String, String)> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text") {
        let tail = &rest[i..];
        let open_end = tail.find('>').unwrap();
        let close = tail.find("</text>").unwrap();
        let open = &tail[..open_end];
        let content = tail[open_end + 1..close].trim().to_string();
        out.push((
            attr(open, "x").unwrap().parse().unwrap(),
            attr(open, "y").unwrap().parse().unwrap(),
            attr(open, "text-anchor").unwrap_or("start").to_string(),
            content,
        ));
        rest = &tail[close..];
    }
    out
}

/// `<polyline>` elements: (stroke colour, points).
fn svg_polylines(svg: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    svg.lines()
        .filter(|l| l.trim_start().starts_with("<polyline"))
        .map(|l| {
            let pts = attr(l, "points")
                .unwrap()
                .split_whitespace()
                .map(|xy| {
                    let (x, y) = xy.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            (attr(l, "stroke").unwrap_or("").to_string(), pts)
        })
        .collect()
}

/// Least-squares line through (value, pixel) pairs: pixel = a + b * value.
fn fit(pairs: &[(f64, f64)]) -> (f64, f64) {
    let n = pairs.len() as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let b = sxy / sxx;
    (my - b * mx, b)
}

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
        title: "t",
        loops: &loops,
        reference_lines: &refs,
    };
    assert!(matches!(
        check(&plot, DEFAULT_SIZE_PX, "empty reference"),
        PlotError::EmptyData { .. }
    ));

    let plot = PvPlot {
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
            title: "Cardiogenic shock, no mechanical support",
            loops: &single,
            reference_lines: &refs,
        },
    );
    write(
        "stages",
        &PvPlot {
            title: "Impella CP: performance levels P2–P8",
            loops: &stages,
            reference_lines: &refs,
        },
    );
}
