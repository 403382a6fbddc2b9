//! `/media/{sha256}.{ext}`: the media folder's files, named by their content's hash, so
//! each is served with `Cache-Control: immutable` and its name as a strong `ETag`. Ranges
//! (a video seeks), `Last-Modified` and the type by extension come from tower-http's
//! `ServeFile`. Only names of that shape are looked up, and only regular files (not
//! symlinks): nothing outside the folder is ever served.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::Web;

/// `64 hex digits`, a dot, then 1–10 of `a-z 0-9`: how the store names media files.
pub fn valid_name(name: &str) -> bool {
    let Some((hash, ext)) = name.split_once('.') else { return false };
    hash.len() == 64
        && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && (1..=10).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

pub async fn file(State(web): State<Arc<Web>>, Path(name): Path<String>, request: Request) -> Response {
    if !valid_name(&name) {
        return super::not_found(request.headers().clone()).await;
    }
    let path = web.config.media_dir.join(&name);
    // A symlink could point anywhere: only regular files are served.
    match tokio::fs::symlink_metadata(&path).await {
        Ok(m) if m.file_type().is_file() => {}
        _ => return super::not_found(request.headers().clone()).await,
    }
    let etag = format!("\"{}\"", &name[..64]);
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match ServeFile::new(&path).oneshot(request).await {
            Ok(r) => r.into_response(),
            Err(e) => {
                tracing::warn!("cannot serve {}: {e}", path.display());
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_hash_names_are_looked_up() {
        let hash = "a".repeat(64);
        assert!(super::valid_name(&format!("{hash}.jpg")));
        assert!(super::valid_name(&format!("{hash}.mp4")));
        for bad in ["../etc/passwd", &format!("{hash}.JPG"), &hash, &format!("{hash}.jpg/x"), "x.jpg"] {
            assert!(!super::valid_name(bad), "{bad}");
        }
        assert!(!super::valid_name(&format!("{}.jpg", "g".repeat(64))));
        assert!(!super::valid_name(&format!("{hash}..jpg")));
    }
}
