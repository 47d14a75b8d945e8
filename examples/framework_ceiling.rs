//! The framework ceiling of `scripts/bench.py`: a bare actix-web server answering one static
//! JSON object of about 250 bytes, with the same worker count and release profile as rapport.
//! `cargo run --release --example framework_ceiling -- 127.0.0.1:9000`

use actix_web::{App, HttpResponse, HttpServer, web};

const BODY: &str = r#"{"id":"0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b","full_name":"Grace Hopper","company":"Navy Labs","title":"Rear Admiral","tags":["compilers","mentor"],"cadence_days":60,"created_at":"2026-11-26T09:46:22Z","updated_at":"2026-11-26T09:46:22Z","archived_at":null}"#;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".to_owned());
    HttpServer::new(|| {
        App::new().route(
            "/",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(BODY)
            }),
        )
    })
    .bind(address)?
    .run()
    .await
}
