# Windows 11: installs what is missing (winget, rustup), builds, and opens the Greenroom
# desktop app, as scripts/run does on Debian. From a clone, in PowerShell:
#   powershell -ExecutionPolicy Bypass -File scripts\run.ps1          the desktop app
#   powershell -ExecutionPolicy Bypass -File scripts\run.ps1 -Serve   the UI in your browser
# Users do not need this: they install Greenroom with Greenroom-<version>-setup.exe.
param([switch]$Serve)
. "$PSScriptRoot\lib\setup.ps1"
Install-Prerequisites

Say 'building the UI'
Push-Location "$Repo\ui"; npm run --silent build -- --logLevel warn; Pop-Location
if ($LASTEXITCODE -ne 0) { throw 'the UI did not build' }
Say 'building Greenroom (the first build takes several minutes)'
cargo build --quiet --manifest-path "$Repo\Cargo.toml" -p greenroom-app -p greenroom-cli
if ($LASTEXITCODE -ne 0) { throw 'Greenroom did not build' }

$target = if ($env:CARGO_TARGET_DIR) { $env:CARGO_TARGET_DIR } else { "$Repo\target" }
if ($Serve) { & "$target\debug\greenroom.exe" serve; exit $LASTEXITCODE }
Say 'opening Greenroom'
Start-Process "$target\debug\greenroom-app.exe"
