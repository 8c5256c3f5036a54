# Shared setup for the Pester tests: the built module (out/S3Mount, produced by 'dotnet build S3Mount.slnx'),
# and helpers. Dot-sourced from BeforeAll blocks.
$script:RepoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '..' '..')).Path
$script:ModuleManifest = Join-Path $script:RepoRoot 'out' 'S3Mount' 'S3Mount.psd1'
if (-not (Test-Path -LiteralPath $script:ModuleManifest)) {
    throw "The module is not built: run 'dotnet build S3Mount.slnx' (or ./build.ps1) first. Expected $script:ModuleManifest"
}

function New-S3MountSandbox {
    # An offline image root with the current user in its passwd, so -Root works without root privileges.
    $root = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-pester-' + [guid]::NewGuid().ToString('N'))
    $null = New-Item -ItemType Directory -Path (Join-Path $root 'etc') -Force
    $user = [System.Environment]::UserName
    $uid = (& id -u).Trim()
    $gid = (& id -g).Trim()
    Set-Content -LiteralPath (Join-Path $root 'etc/passwd') -Value "root:x:0:0:root:/root:/bin/sh`n${user}:x:${uid}:${gid}::/home/${user}:/bin/sh" -NoNewline
    Set-Content -LiteralPath (Join-Path $root 'etc/group') -Value "root:x:0:`n${user}:x:${gid}:" -NoNewline
    Set-Content -LiteralPath (Join-Path $root 'etc/fuse.conf') -Value "#user_allow_other`n" -NoNewline
    $root
}

function Get-SandboxSnapshot {
    param([Parameter(Mandatory)] [string] $Root)
    # Every entry under the root with its type, mode/target and content hash: equal snapshots mean nothing was written.
    Get-ChildItem -LiteralPath $Root -Recurse -Force | Sort-Object FullName | ForEach-Object {
        $rel = $_.FullName.Substring($Root.Length)
        if ($_.LinkType) { "$rel -> $($_.Target)" }
        elseif ($_.PSIsContainer) { "$rel/ $($_.UnixMode)" }
        else { "$rel $($_.UnixMode) $((Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash)" }
    }
}

function Start-FakeSsm {
    # Starts the fake SSM service (tests/S3Mount.FakeSsm.Host) with simulated nodes; returns its settings and process.
    param([int] $Nodes = 3, [int] $Offline = 1)
    $dll = Get-ChildItem -Path (Join-Path $script:RepoRoot 'tests/S3Mount.FakeSsm.Host/bin') -Recurse -Filter 'S3Mount.FakeSsm.Host.dll' |
        Sort-Object LastWriteTime -Descending | Select-Object -First 1
    if (-not $dll) { throw "tests/S3Mount.FakeSsm.Host is not built: run 'dotnet build S3Mount.slnx'." }
    $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in @($dll.FullName, '--nodes', "$Nodes", '--offline', "$Offline")) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($psi)
    $line = $process.StandardOutput.ReadLine()
    if (-not $line) { throw 'The fake SSM service did not start.' }
    $settings = $line | ConvertFrom-Json
    [pscustomobject]@{
        Process   = $process
        Endpoint  = $settings.endpoint
        Region    = $settings.region
        AccessKey = $settings.accessKey
        SecretKey = $settings.secretKey
        Instances = @($settings.instances)
        Offline   = @($settings.offline)
        Sandbox   = $settings.sandbox
    }
}

function Stop-FakeSsm {
    param($Fake)
    if ($Fake -and -not $Fake.Process.HasExited) {
        $Fake.Process.StandardInput.Close()
        if (-not $Fake.Process.WaitForExit(10000)) { $Fake.Process.Kill() }
    }
}
