// The app's config lives at the top of the repository, beside icons/ and ui/.
fn main() {
    if let Err(e) =
        tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
    {
        panic!("tauri build failed: {e:#}");
    }
}
