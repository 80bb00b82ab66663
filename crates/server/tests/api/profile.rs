use std::io::Cursor;

use rand::RngCore;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

/// A PNG of noise (incompressible) of about `target` bytes.
pub fn noisy_png(target: usize) -> Vec<u8> {
    let side = ((target / 3) as f64).sqrt() as u32;
    let mut pixels = vec![0u8; (side * side * 3) as usize];
    rand::thread_rng().fill_bytes(&mut pixels);
    let img = image::RgbImage::from_raw(side, side, pixels).unwrap();
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn put_avatar(
    app: &TestApp,
    token: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.http
        .put(app.api("/me/avatar"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn name_and_a_large_avatar_stick_and_bad_avatars_change_nothing() {
    let (app, mut sink) = spawn_app().await;
    let (_, token) = app
        .onboard(&mut sink, "maria@example.com", "operator")
        .await;

    let named = app
        .send_json(
            Method::PATCH,
            &token,
            "/me",
            json!({ "name": "  Maria Petrova " }),
        )
        .await;
    assert_eq!(named.status(), StatusCode::OK);
    assert_eq!(
        named.json::<Value>().await.unwrap()["name"],
        "Maria Petrova"
    );

    let photo = noisy_png(900_000);
    assert!(
        (850_000..1_000_000).contains(&photo.len()),
        "a 0.9 MB image: {}",
        photo.len()
    );
    let uploaded = put_avatar(&app, &token, "image/png", photo).await;
    assert_eq!(uploaded.status(), StatusCode::OK);
    let me: Value = uploaded.json().await.unwrap();
    let avatar_url = me["avatar_url"].as_str().unwrap().to_string();
    assert!(avatar_url.starts_with(&format!("{}/avatars/", app.url)));

    let served = app.http.get(&avatar_url).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert!(served.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let stored = image::load_from_memory(&served.bytes().await.unwrap()).unwrap();
    assert!(
        stored.width() <= 512 && stored.height() <= 512,
        "bounded dimensions"
    );

    // Over 1 MiB: 413, nothing changes.
    let too_big = put_avatar(&app, &token, "image/png", noisy_png(1_200_000)).await;
    assert_eq!(
        expect_error(too_big, StatusCode::PAYLOAD_TOO_LARGE).await,
        "payload_too_large"
    );
    // Text posing as a PNG: 422, nothing changes.
    let fake = put_avatar(
        &app,
        &token,
        "image/png",
        b"I am not an image, honest".to_vec(),
    )
    .await;
    assert_eq!(
        expect_error(fake, StatusCode::UNPROCESSABLE_ENTITY).await,
        "not_an_image"
    );
    // A PNG declared as JPEG, and a type we do not take.
    let mismatch = put_avatar(&app, &token, "image/jpeg", noisy_png(1000)).await;
    assert_eq!(
        expect_error(mismatch, StatusCode::UNPROCESSABLE_ENTITY).await,
        "image_type_mismatch"
    );
    let svg = put_avatar(&app, &token, "image/svg+xml", b"<svg/>".to_vec()).await;
    assert_eq!(
        expect_error(svg, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "unsupported_media_type"
    );

    let me: Value = app.get(&token, "/me").await.json().await.unwrap();
    assert_eq!(me["avatar_url"], avatar_url.as_str());
    assert_eq!(me["name"], "Maria Petrova");
    assert_eq!(
        app.http.get(&avatar_url).send().await.unwrap().status(),
        StatusCode::OK
    );

    // Visitors and colleagues see it on the team list.
    let team: Vec<Value> = app
        .get(&app.admin_token, "/team")
        .await
        .json()
        .await
        .unwrap();
    assert!(team.iter().any(|u| u["avatar_url"] == avatar_url.as_str()));

    let cleared = app
        .http
        .delete(app.api("/me/avatar"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        cleared.json::<Value>().await.unwrap()["avatar_url"],
        Value::Null
    );
    assert_eq!(
        app.http.get(&avatar_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn profile_fields_are_validated() {
    let (app, _sink) = spawn_app().await;
    let bad_locale = app
        .send_json(
            Method::PATCH,
            &app.admin_token,
            "/me",
            json!({ "locale": "klingon" }),
        )
        .await;
    assert_eq!(
        expect_error(bad_locale, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_locale"
    );
    let long_name = app
        .send_json(
            Method::PATCH,
            &app.admin_token,
            "/me",
            json!({ "name": "x".repeat(101) }),
        )
        .await;
    assert_eq!(
        expect_error(long_name, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_name"
    );
    let me: Value = app.get(&app.admin_token, "/me").await.json().await.unwrap();
    assert_eq!(
        (me["name"].as_str(), me["locale"].as_str()),
        (Some("Ada Admin"), Some("en"))
    );
}

#[tokio::test]
async fn notification_switches_and_presence() {
    let (app, _sink) = spawn_app().await;
    let off = app
        .send_json(
            Method::PUT,
            &app.admin_token,
            "/me/notifications",
            json!({ "sound": false, "email": true }),
        )
        .await;
    assert_eq!(
        off.json::<Value>().await.unwrap()["notifications"],
        json!({ "sound": false, "email": true })
    );
    let me: Value = app.get(&app.admin_token, "/me").await.json().await.unwrap();
    assert_eq!(
        me["notifications"],
        json!({ "sound": false, "email": true })
    );
    let partial = app
        .send_json(
            Method::PUT,
            &app.admin_token,
            "/me/notifications",
            json!({ "sound": true }),
        )
        .await;
    assert_eq!(partial.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // With no live stream a member is offline whatever they chose.
    let away = app
        .send_json(
            Method::PUT,
            &app.admin_token,
            "/me/presence",
            json!({ "presence": "away" }),
        )
        .await;
    assert_eq!(away.json::<Value>().await.unwrap()["presence"], "offline");
    let bad = app
        .send_json(
            Method::PUT,
            &app.admin_token,
            "/me/presence",
            json!({ "presence": "offline" }),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
