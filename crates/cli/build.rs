//! Windows: the icon, the version information (Explorer's Details tab) and the application
//! manifest (UTF-8 code page, long paths, Windows 10/11) go into `greenroom.exe`. The
//! resource script is written here, from the package's version, and compiled by
//! embed-resource (mingw's windres when cross-building, rc.exe with MSVC). Nothing happens
//! for other targets.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let icon = manifest_dir.join("../../icons/icon.ico");
    println!("cargo:rerun-if-changed={}", icon.display());
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    let numbers: Vec<u16> = version
        .split(['.', '-', '+'])
        .take(3)
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    let comma = format!(
        "{},{},{},0",
        numbers.first().unwrap_or(&0),
        numbers.get(1).unwrap_or(&0),
        numbers.get(2).unwrap_or(&0)
    );
    // Resource compilers read `\` in strings as an escape: forward slashes work for both.
    let path = |p: &std::path::Path| p.display().to_string().replace('\\', "/");
    let manifest = out.join("greenroom.exe.manifest");
    std::fs::write(&manifest, MANIFEST).expect("OUT_DIR is writable");
    let rc = format!(
        r#"#include <winver.h>
1 ICON "{icon}"
1 24 "{manifest}"
1 VERSIONINFO
FILEVERSION {comma}
PRODUCTVERSION {comma}
FILEOS VOS_NT_WINDOWS32
FILETYPE VFT_APP
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904B0"
    BEGIN
      VALUE "CompanyName", "Eloquence"
      VALUE "FileDescription", "Greenroom command line"
      VALUE "FileVersion", "{version}"
      VALUE "InternalName", "greenroom"
      VALUE "OriginalFilename", "greenroom.exe"
      VALUE "ProductName", "Greenroom"
      VALUE "ProductVersion", "{version}"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
"#,
        icon = path(&icon),
        manifest = path(&manifest),
    );
    let script = out.join("greenroom.rc");
    std::fs::write(&script, rc).expect("OUT_DIR is writable");
    embed_resource::compile_for(&script, ["greenroom"], embed_resource::NONE)
        .manifest_required()
        .expect("the Windows resources of greenroom.exe compile (mingw-w64's windres, or rc.exe)");
}

/// UTF-8 as the process code page (arguments and paths with accents), paths longer than
/// 260 characters, and the OS versions it is written for (Windows 10 and 11 share an id).
const MANIFEST: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v1" manifestVersion="1.0">
  <assemblyIdentity type="win32" name="Eloquence.Greenroom.Cli" version="1.0.0.0"/>
  <compatibility xmlns="urn:schemas-microsoft-com:compatibility.v1">
    <application>
      <supportedOS Id="{8e0f7a12-bfb3-4fe8-b9a5-48fd50a15a9a}"/>
    </application>
  </compatibility>
  <application xmlns="urn:schemas-microsoft-com:asm.v3">
    <windowsSettings>
      <activeCodePage xmlns="http://schemas.microsoft.com/SMI/2019/WindowsSettings">UTF-8</activeCodePage>
      <longPathAware xmlns="http://schemas.microsoft.com/SMI/2016/WindowsSettings">true</longPathAware>
    </windowsSettings>
  </application>
</assembly>
"#;
