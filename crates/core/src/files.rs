//! Small pure helpers about files the operator sends and receives: the content type
//! to announce for an upload, a name that is safe to create on this computer, and
//! which received files are not opened straight away with the OS.

/// The content type of a file, from its first bytes (images, PDF) or else its
/// extension; `application/octet-stream` when neither tells.
pub fn guess_content_type(name: &str, head: &[u8]) -> &'static str {
    if let Some(t) = sniff(head) {
        return t;
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" | "jfif" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "heic" => "image/heic",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "md" => "text/markdown",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "json" => "application/json",
        "rtf" => "application/rtf",
        "eml" => "message/rfc822",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "7z" => "application/x-7z-compressed",
        "rar" => "application/vnd.rar",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// Image and PDF signatures: what the bytes say wins over the name.
fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else if head.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// Longest file name the server keeps (it refuses names past 255 characters).
pub const MAX_UPLOAD_NAME_CHARS: usize = 200;

/// The name a file is uploaded under: its last path component without control
/// characters, spaces around or dots in front (as the server keeps it), at most 200
/// characters with the extension kept (`…` where it was cut), `file` if nothing is left.
pub fn upload_name(name: &str) -> String {
    let cleaned = name
        .split(['/', '\\'])
        .map(|part| {
            part.chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .trim()
                .trim_start_matches('.')
                .trim()
                .to_string()
        })
        .rev()
        .find(|part| !part.is_empty())
        .unwrap_or_else(|| "file".into());
    if cleaned.chars().count() <= MAX_UPLOAD_NAME_CHARS {
        return cleaned;
    }
    let ext: String = match cleaned.rsplit_once('.') {
        Some((_, ext)) if !ext.is_empty() && ext.chars().count() <= 10 => format!(".{ext}"),
        _ => String::new(),
    };
    let stem: String = cleaned
        .chars()
        .take(MAX_UPLOAD_NAME_CHARS - 1 - ext.chars().count())
        .collect();
    format!("{}…{ext}", stem.trim_end())
}

/// The usual extension of an image type (for a pasted image, which has no name).
pub fn image_extension(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => "png",
    }
}

/// A file name that is safe to create in a folder of this computer, from a name a
/// stranger chose: no folders (`/`, `\`), no `..`, no control characters, none of the
/// characters Windows refuses, not a Windows device name, not hidden, not empty, at
/// most 150 characters (the extension kept).
pub fn safe_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut s = cleaned
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .to_string();
    if s.chars().count() > 150 {
        let (stem, ext) = match s.rsplit_once('.') {
            Some((stem, ext)) if !ext.is_empty() && ext.chars().count() <= 10 => {
                (stem.to_string(), format!(".{ext}"))
            }
            _ => (s.clone(), String::new()),
        };
        let keep = 150 - ext.chars().count();
        s = stem.chars().take(keep).collect::<String>() + &ext;
    }
    let stem = s.split('.').next().unwrap_or_default().to_ascii_uppercase();
    let device = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if device {
        s.insert(0, '_');
    }
    if s.is_empty() {
        "file".into()
    } else {
        s
    }
}

/// Files that run code when "opened" (programs, scripts, installers, shortcuts, web
/// pages): a visitor could send one, so the app only saves them — the operator opens
/// them deliberately, if at all.
pub fn risky_to_open(name: &str) -> bool {
    const RISKY: &[&str] = &[
        "exe",
        "com",
        "scr",
        "pif",
        "bat",
        "cmd",
        "msi",
        "msp",
        "msc",
        "cpl",
        "dll",
        "sys",
        "jar",
        "js",
        "jse",
        "vbs",
        "vbe",
        "wsf",
        "wsh",
        "ps1",
        "psm1",
        "hta",
        "lnk",
        "url",
        "reg",
        "inf",
        "scf",
        "appref-ms",
        "application",
        "gadget",
        "app",
        "command",
        "pkg",
        "dmg",
        "mpkg",
        "workflow",
        "terminal",
        "sh",
        "bash",
        "zsh",
        "csh",
        "ksh",
        "run",
        "bin",
        "desktop",
        "appimage",
        "deb",
        "rpm",
        "snap",
        "flatpakref",
        "py",
        "pl",
        "rb",
        "php",
        "html",
        "htm",
        "xhtml",
        "svg",
        "mht",
        "mhtml",
        "shtml",
        "xht",
        "iso",
        "img",
        "vhd",
        "vhdx",
        "docm",
        "xlsm",
        "pptm",
        "dotm",
        "xltm",
        "xlam",
        "ppam",
        "sldm",
    ];
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let trimmed = last.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    match trimmed.rsplit_once('.') {
        Some((_, ext)) => RISKY.contains(&ext.to_ascii_lowercase().as_str()),
        // no extension: on Linux and macOS that is how programs look
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_from_bytes_then_name() {
        assert_eq!(
            guess_content_type("x.bin", b"\x89PNG\r\n\x1a\nrest"),
            "image/png"
        );
        // the bytes win over a wrong name
        assert_eq!(
            guess_content_type("photo.png", &[0xFF, 0xD8, 0xFF, 0xE0]),
            "image/jpeg"
        );
        assert_eq!(
            guess_content_type("Счёт 4512.PDF", b"garbage"),
            "application/pdf"
        );
        assert_eq!(guess_content_type("notes.txt", b"hello"), "text/plain");
        assert_eq!(
            guess_content_type("README", b"hello"),
            "application/octet-stream"
        );
        assert_eq!(guess_content_type("a.tar.gz", b""), "application/gzip");
    }

    #[test]
    fn upload_names_fit_what_the_server_keeps() {
        assert_eq!(upload_name("Счёт 4512.pdf"), "Счёт 4512.pdf");
        assert_eq!(upload_name("/home/anna/.bashrc"), "bashrc");
        assert_eq!(upload_name("C:\\fakepath\\x.png"), "x.png");
        assert_eq!(upload_name(" a\tb.txt "), "ab.txt");
        assert_eq!(upload_name("..."), "file");
        assert_eq!(upload_name(""), "file");
        let long = format!("{}.jpeg", "ф".repeat(300));
        let cut = upload_name(&long);
        assert_eq!(cut.chars().count(), MAX_UPLOAD_NAME_CHARS);
        assert!(cut.ends_with("ф….jpeg"), "{cut}");
        let no_ext = "x".repeat(260);
        assert_eq!(upload_name(&no_ext).chars().count(), MAX_UPLOAD_NAME_CHARS);
    }

    #[test]
    fn names_from_strangers_are_made_safe() {
        assert_eq!(safe_file_name("invoice-4512.pdf"), "invoice-4512.pdf");
        assert_eq!(safe_file_name("Счёт №4512.pdf"), "Счёт №4512.pdf");
        assert_eq!(safe_file_name("../../.bashrc"), "bashrc");
        assert_eq!(safe_file_name("C:\\Windows\\evil.exe"), "evil.exe");
        assert_eq!(safe_file_name("a\u{0}b\nc.txt"), "a_b_c.txt");
        assert_eq!(safe_file_name("what?.txt"), "what_.txt");
        assert_eq!(safe_file_name("..."), "file");
        assert_eq!(safe_file_name(""), "file");
        assert_eq!(safe_file_name("CON.txt"), "_CON.txt");
        assert_eq!(safe_file_name("com1"), "_com1");
        assert_eq!(safe_file_name("compact.txt"), "compact.txt");
        let long = format!("{}.pdf", "я".repeat(400));
        let s = safe_file_name(&long);
        assert_eq!(s.chars().count(), 150);
        assert!(s.ends_with(".pdf"));
    }

    #[test]
    fn programs_and_pages_are_not_opened_directly() {
        for risky in [
            "setup.exe",
            "run.SH",
            "page.html",
            "drawing.svg",
            "launch.desktop",
            "macro.xlsm",
            "program",
            "trailing.exe. ",
        ] {
            assert!(risky_to_open(risky), "{risky}");
        }
        for fine in [
            "photo.jpg",
            "invoice.pdf",
            "report.docx",
            "data.csv",
            "notes.txt",
        ] {
            assert!(!risky_to_open(fine), "{fine}");
        }
    }
}
