//! No container engine runs here, so the compose file and Dockerfile are checked by reading them.

use std::path::Path;

use rapport::config::KEYS;
use serde_yaml_ng::Value;

fn read(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
}

fn env_map(service: &Value) -> Vec<(String, String)> {
    match &service["environment"] {
        Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => String::new(),
                };
                (k.as_str().unwrap().to_owned(), value)
            })
            .collect(),
        other => panic!("environment must be a mapping, got {other:?}"),
    }
}

#[test]
fn compose_runs_postgres_16_and_rapport_once_postgres_is_healthy() {
    let compose: Value = serde_yaml_ng::from_str(&read("docker-compose.yml")).unwrap();
    let services = &compose["services"];

    let postgres = &services["postgres"];
    assert!(
        postgres["image"]
            .as_str()
            .unwrap()
            .starts_with("postgres:16")
    );
    assert!(
        postgres["healthcheck"]["test"].is_sequence(),
        "postgres healthcheck"
    );
    let volume = postgres["volumes"][0].as_str().unwrap();
    let name = volume.split(':').next().unwrap();
    assert!(compose["volumes"][name].is_mapping() || compose["volumes"][name].is_null());
    assert!(
        compose["volumes"].as_mapping().unwrap().contains_key(name),
        "named volume {name}"
    );

    let rapport = &services["rapport"];
    assert_eq!(
        rapport["depends_on"]["postgres"]["condition"],
        "service_healthy"
    );
    assert!(
        rapport["healthcheck"]["test"].is_sequence(),
        "rapport healthcheck"
    );
    let healthcheck = format!("{:?}", rapport["healthcheck"]["test"]);
    assert!(healthcheck.contains("/healthz"), "{healthcheck}");
    assert_eq!(rapport["ports"][0].as_str().unwrap(), "8080:8080");

    let env = env_map(rapport);
    for (name, _) in &env {
        let key = name
            .strip_prefix("RAPPORT_")
            .unwrap_or_else(|| panic!("{name} is not a RAPPORT_ setting"))
            .to_lowercase();
        assert!(
            KEYS.contains(&key.as_str()),
            "{name} is not a setting of rapport"
        );
    }
    let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(get("RAPPORT_BIND"), Some("0.0.0.0:8080"));
    assert!(
        get("RAPPORT_DATABASE_URL")
            .unwrap()
            .contains("@postgres:5432/")
    );
    assert!(
        get("RAPPORT_JWT_SECRET").is_some(),
        "PostgreSQL requires a secret"
    );
}

#[test]
fn dockerfile_builds_in_stages_and_runs_unprivileged_with_a_healthcheck() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.matches("FROM ").count() >= 2, "multi-stage");
    assert!(dockerfile.contains("cargo build --release"));
    let user = dockerfile
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root"), "{user}");
    assert!(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("/healthz"));
}
