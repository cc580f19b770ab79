# Windows 11: installs what is missing, then runs the checks that run on Windows, as
# scripts/test does on Debian. From a clone, in PowerShell:
#   powershell -ExecutionPolicy Bypass -File scripts\test.ps1
# The full suite (the real Docker engine, the PulseAudio microphone, the desktop end-to-end
# tests, Wine) runs on Debian only: scripts/test, which CI runs. Tests that need Linux are
# compiled out here (#[cfg(unix)]).
. "$PSScriptRoot\lib\setup.ps1"
Install-Prerequisites -ForTests

$failed = @()
function Step($name, [scriptblock]$command) {
    Say $name
    & $command
    if ($LASTEXITCODE -ne 0) { $script:failed += $name }
}
Push-Location $Repo
Step 'rust: format' { cargo fmt --all --check }
Step 'ui: build' { Push-Location ui; npm run --silent build -- --logLevel warn; Pop-Location }
Step 'rust: clippy' { cargo clippy --workspace --all-targets --quiet -- -D warnings }
Step 'rust: tests' { cargo test --workspace --quiet }
Step 'ui: typecheck' { Push-Location ui; npm run --silent check; Pop-Location }
Step 'ui: unit tests' { Push-Location ui; npm run --silent test; Pop-Location }
Pop-Location
if ($failed.Count -gt 0) { Write-Host "failed: $($failed -join ', ')" -ForegroundColor Red; exit 1 }
Write-Host 'all steps passed' -ForegroundColor Green
