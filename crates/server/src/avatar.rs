//! Avatars: at most 1 MiB, must decode as the declared image type, stored
//! re-encoded (metadata stripped, at most 512×512).

use std::io::Cursor;

use image::{ImageFormat, ImageReader};

use crate::error::ApiError;

pub const MAX_BYTES: usize = 1_048_576;
const MAX_SIDE: u32 = 512;
/// A decoded image may not need more memory than this (a "zip bomb" PNG).
const MAX_DECODED_BYTES: u64 = 64 * 1024 * 1024;

pub struct StoredAvatar {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
}

pub fn declared_format(content_type: &str) -> Result<ImageFormat, ApiError> {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "image/png" => Ok(ImageFormat::Png),
        "image/jpeg" | "image/jpg" => Ok(ImageFormat::Jpeg),
        "image/webp" => Ok(ImageFormat::WebP),
        "image/gif" => Ok(ImageFormat::Gif),
        "" => Err(ApiError::unsupported_media(
            "send the image bytes with Content-Type image/png, image/jpeg, image/webp or image/gif",
        )),
        other => Err(ApiError::unsupported_media(format!(
            "{other} is not accepted: use image/png, image/jpeg, image/webp or image/gif"
        ))),
    }
}

/// Checks the bytes are an image of the declared kind and re-encodes them:
/// photos as JPEG, everything else as PNG.
pub fn process(bytes: &[u8], declared: ImageFormat) -> Result<StoredAvatar, ApiError> {
    if bytes.len() > MAX_BYTES {
        return Err(ApiError::too_large(
            "the avatar may be at most 1 MB (1,048,576 bytes)",
        ));
    }
    let sniffed = image::guess_format(bytes)
        .map_err(|_| ApiError::unprocessable("not_an_image", "the bytes are not an image"))?;
    if sniffed != declared {
        return Err(ApiError::unprocessable(
            "image_type_mismatch",
            format!("the bytes are {sniffed:?}, not the declared {declared:?}"),
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), declared);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| {
        ApiError::unprocessable("not_an_image", format!("the image cannot be decoded: {e}"))
    })?;
    let resized = if decoded.width() > MAX_SIDE || decoded.height() > MAX_SIDE {
        decoded.thumbnail(MAX_SIDE, MAX_SIDE)
    } else {
        decoded
    };
    let mut out = Cursor::new(Vec::new());
    let extension = if declared == ImageFormat::Jpeg {
        resized
            .to_rgb8()
            .write_to(&mut out, ImageFormat::Jpeg)
            .map_err(ApiError::internal)?;
        "jpg"
    } else {
        resized
            .write_to(&mut out, ImageFormat::Png)
            .map_err(ApiError::internal)?;
        "png"
    };
    Ok(StoredAvatar {
        bytes: out.into_inner(),
        extension,
    })
}

pub fn content_type_of(file: &str) -> &'static str {
    if file.ends_with(".jpg") {
        "image/jpeg"
    } else {
        "image/png"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn reencodes_and_bounds_size() {
        let stored = process(&png(1000, 600), ImageFormat::Png).unwrap();
        let back = image::load_from_memory(&stored.bytes).unwrap();
        assert_eq!((back.width(), back.height()), (512, 307));
    }

    #[test]
    fn refuses_text_and_mismatched_types() {
        assert_eq!(
            process(b"hello, I am text", ImageFormat::Png)
                .err()
                .unwrap()
                .code,
            "not_an_image"
        );
        assert_eq!(
            process(&png(4, 4), ImageFormat::Jpeg).err().unwrap().code,
            "image_type_mismatch"
        );
        assert!(declared_format("text/plain").is_err());
    }
}
