//! QR codes drawn by the server as SVG, to embed in a printable page or hand to an API
//! client.

use qrcode::QrCode;
use qrcode::render::svg;

use crate::error::ApiError;

/// An `<svg>` element (no XML prolog, so it can sit inside HTML) of `text` as a QR code.
pub fn svg(text: &str) -> Result<String, ApiError> {
    let code = QrCode::new(text.as_bytes())
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("QR code: {e}")))?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Ok(match image.find("<svg") {
        Some(start) => image[start..].to_string(),
        None => image,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_becomes_an_inline_svg() {
        let svg = super::svg("https://kairan.example.jp/signin/abc").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("style="), "no inline styles under the CSP");
    }
}
