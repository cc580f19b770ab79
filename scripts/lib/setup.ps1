# What scripts\run.ps1 and scripts\test.ps1 share: install what is missing on Windows 11,
# the way scripts/setup does on Debian. Dot-source it; do not run it.
# It cannot be run on our Linux machines: every line says what it needs.

$ErrorActionPreference = 'Stop'
$Repo = (Resolve-Path "$PSScriptRoot\..\..").Path

function Say($text) { Write-Host "==> $text" -ForegroundColor Cyan }

# winget ships with Windows 11 (App Installer). Each package id is winget's own.
function Install-IfMissing($command, $wingetId, $extra = @()) {
    if (Get-Command $command -ErrorAction SilentlyContinue) { return }
    Say "winget: installing $wingetId (for $command)"
    winget install --id $wingetId --exact --silent --accept-package-agreements --accept-source-agreements @extra
    if ($LASTEXITCODE -ne 0) { throw "winget could not install $wingetId; install it by hand, then rerun" }
    # winget changes PATH for new shells only: read it again for this one.
    $env:Path = [Environment]::GetEnvironmentVariable('Path', 'Machine') + ';' + [Environment]::GetEnvironmentVariable('Path', 'User')
}

function Install-Prerequisites([switch]$ForTests) {
    Install-IfMissing git 'Git.Git'
    Install-IfMissing node 'OpenJS.NodeJS.LTS'          # the UI's build (Vite 8: Node 20.19+ or 22.12+)
    Install-IfMissing cmake 'Kitware.CMake'             # libopus, built from source by the audio crates
    # Rust's MSVC toolchain links with Visual Studio's C++ build tools (cl.exe, link.exe).
    if (-not (Test-Path "${env:ProgramFiles(x86)}\Microsoft Visual Studio\Installer\vswhere.exe") -or
        -not (& "${env:ProgramFiles(x86)}\Microsoft Visual Studio\Installer\vswhere.exe" -products * -requires Microsoft.VisualStudio.Component.VC.Tools.x86.x64 -property installationPath)) {
        Say 'winget: installing the Visual Studio C++ build tools (about 10 minutes)'
        winget install --id Microsoft.VisualStudio.2022.BuildTools --exact --silent --accept-package-agreements `
            --override '--quiet --wait --add Microsoft.VisualStudio.Workload.VCTools --includeRecommended'
    }
    Install-IfMissing rustup 'Rustlang.Rustup'          # then cargo is in %USERPROFILE%\.cargo\bin
    $env:Path = "$env:USERPROFILE\.cargo\bin;$env:Path"
    rustup toolchain install stable --profile minimal --component rustfmt,clippy
    Install-IfMissing python 'Python.Python.3.12'       # the agent and the sandbox's speech, when run natively
    if (-not (Get-Command docker -ErrorAction SilentlyContinue)) {
        Write-Warning 'Docker Desktop is not installed: Eloquence''s compose services need it (winget install Docker.DockerDesktop). Greenroom runs without it.'
    }
    Push-Location "$Repo\ui"; npm ci --no-audit --no-fund --loglevel=error; Pop-Location
    if ($ForTests) { Push-Location "$Repo\tests\e2e"; npm ci --no-audit --no-fund --loglevel=error; Pop-Location }
}
