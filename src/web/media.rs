//! `/media/{sha256}.{ext}`: the media folder's files, named by their content's hash, so
//! each is served with `Cache-Control: immutable` and its name as a strong `ETag`. Ranges
//! (a video seeks), `Last-Modified` and the type by extension come from tower-http's
//! `ServeFile`. Only names of that shape are looked up, and only regular files (not
//! symlinks): nothing outside the folder is ever served.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::Web;

/// 64 hex digits, then maybe a dot and 1–10 of `a-z 0-9`: how the store names media files.
pub fn valid_name(name: &str) -> bool {
    let (hash, ext) = name.split_once('.').unwrap_or((name, "x"));
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

/// The extension a fetched file is kept with: its own name's, else its kind's usual one.
fn extension(m: &crate::model::Media) -> String {
    let own = m.file_name.as_deref().map(|n| crate::store::extension_of(std::path::Path::new(n))).unwrap_or_default();
    if !own.is_empty() {
        return own;
    }
    use crate::model::MediaKind::*;
    match m.kind {
        Photo => "jpg",
        Video | Animation | VideoNote => "mp4",
        Audio => "mp3",
        Voice => "ogg",
        Sticker => "webp",
        Document => "",
    }
    .to_string()
}

/// `/media/live/{post}/{position}`: a live post's file, known to Telegram only by its
/// file_id, fetched once on first view and kept in the media folder by content hash (the
/// post's row then names it); then a redirect to it. Without a way to fetch (`serve`), the
/// post on `t.me`.
pub async fn live(
    State(web): State<Arc<Web>>,
    Path((post, position)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let lang = super::texts::reader_lang(None, headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let (Ok(post_id), Ok(position)) = (post.parse::<i64>(), position.parse::<usize>()) else {
        return super::not_found(headers).await;
    };
    let read = web.archive.try_call(move |a| a.post(post_id)).await;
    let post = match read {
        Ok(Some(post)) => post,
        Ok(None) => return super::not_found(headers).await,
        Err(e) => return super::pages::unavailable(lang, format!("{e:#}")),
    };
    let Some(item) = post.media.get(position).cloned() else {
        return super::not_found(headers).await;
    };
    if let Some(file) = item.file.as_ref().filter(|_| !item.missing) {
        return Redirect::to(&format!("/media/{file}")).into_response();
    }
    let (Some(file_id), Some(fetch)) = (item.file_id.clone(), web.fetch.clone()) else {
        return match &post.url {
            Some(url) => Redirect::to(url).into_response(),
            None => super::not_found(headers).await,
        };
    };
    let bytes = match fetch.fetch(&file_id).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(post = post_id, position, "cannot fetch a live post's file from Telegram: {e:#}");
            return super::pages::error(lang, StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let dir = web.config.media_dir.clone();
    let ext = extension(&item);
    let kept = tokio::task::spawn_blocking(move || crate::store::keep_bytes(&dir, &bytes, &ext)).await;
    let name = match kept {
        Ok(Ok(name)) => name,
        Ok(Err(e)) => return super::pages::unavailable(lang, format!("keeping a fetched file: {e}")),
        Err(e) => return super::pages::unavailable(lang, format!("keeping a fetched file: {e}")),
    };
    let file = name.clone();
    if let Err(e) = web.archive.try_call(move |a| a.set_media_file(post_id, position, &file)).await {
        tracing::warn!("cannot record the fetched file of post #{post_id}: {e:#}");
    }
    Redirect::to(&format!("/media/{name}")).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_hash_names_are_looked_up() {
        let hash = "a".repeat(64);
        assert!(super::valid_name(&format!("{hash}.jpg")));
        assert!(super::valid_name(&format!("{hash}.mp4")));
        assert!(super::valid_name(&hash), "a file without an extension");
        for bad in ["../etc/passwd", &format!("{hash}.JPG"), &format!("{hash}."), &format!("{hash}.jpg/x"), "x.jpg"] {
            assert!(!super::valid_name(bad), "{bad}");
        }
        assert!(!super::valid_name(&format!("{}.jpg", "g".repeat(64))));
        assert!(!super::valid_name(&format!("{hash}..jpg")));
    }
}
