//! Readers for the pictures the tests check: a PNG's header, and the SVG that plotters writes
//! (one element per line).

/// Width and height from a PNG's IHDR chunk, after checking the signature.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "PNG too short");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

/// Value of attribute `name` in an element's text.
pub fn attr<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = element.find(&key)? + key.len();
    let len = element[start..].find('"')?;
    Some(&element[start..start + len])
}

/// `<text>` elements: (x, y, text-anchor, content).
pub fn svg_texts(svg: &str) -> Vec<(f64, f64, String, String)> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text") {
        let tail = &rest[i..];
        let open_end = tail.find('>').unwrap();
        let close = tail.find("</text>").unwrap();
        let open = &tail[..open_end];
        out.push((
            attr(open, "x").unwrap().parse().unwrap(),
            attr(open, "y").unwrap().parse().unwrap(),
            attr(open, "text-anchor").unwrap_or("start").to_string(),
            tail[open_end + 1..close].trim().to_string(),
        ));
        rest = &tail[close..];
    }
    out
}

/// `<polyline>` elements: (stroke colour, points).
pub fn svg_polylines(svg: &str) -> Vec<(String, Vec<(f64, f64)>)> {
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

/// Least-squares line through (value, pixel) pairs: pixel = a + b · value; returns (a, b).
pub fn fit(pairs: &[(f64, f64)]) -> (f64, f64) {
    let n = pairs.len() as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let b = sxy / sxx;
    (my - b * mx, b)
}
