# Shared setup for the Pester tests: the built module (out/S3Mount, produced by 'dotnet build S3Mount.slnx'),
# and helpers. Dot-sourced from BeforeAll blocks.
$script:RepoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '..' '..')).Path
$script:ModuleManifest = Join-Path $script:RepoRoot 'out' 'S3Mount' 'S3Mount.psd1'
if (-not (Test-Path -LiteralPath $script:ModuleManifest)) {
    throw "The module is not built: run 'dotnet build S3Mount.slnx' (or ./build.ps1) first. Expected $script:ModuleManifest"
}

function Get-PwshCommand {
    # The pwsh running these tests, as a command line for a fresh process: a dotnet-tool pwsh runs as 'dotnet pwsh.dll'.
    $process = [System.Environment]::ProcessPath
    if ((Split-Path -Leaf $process) -like 'dotnet*') { return , @($process, (Join-Path $PSHOME 'pwsh.dll')) }
    , @($process)
}

function Invoke-FreshPwsh {
    # Runs a command in a new pwsh -NoProfile process (its own load contexts) and returns its output, errors included.
    param([Parameter(Mandatory)] [string] $Command)
    $pwsh = Get-PwshCommand
    # Plain text: formatted output is compared as a user reads it, without the colour escapes of a terminal.
    $arguments = @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-Command', "`$PSStyle.OutputRendering = 'PlainText'; $Command")
    & $pwsh[0] @arguments 2>&1
}

function New-S3MountSandbox {
    # An offline image root with the current user and ec2-user (uid 1000) in its passwd, so -Root works without root
    # privileges and a non-root service user exists in the image whoever runs the tests.
    $root = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-pester-' + [guid]::NewGuid().ToString('N'))
    $null = New-Item -ItemType Directory -Path (Join-Path $root 'etc') -Force
    $user = [System.Environment]::UserName
    $uid = (& id -u).Trim()
    $gid = (& id -g).Trim()
    $passwd = @('root:x:0:0:root:/root:/bin/sh', 'ec2-user:x:1000:1000::/home/ec2-user:/bin/sh')
    $group = @('root:x:0:', 'ec2-user:x:1000:')
    if ($user -notin 'root', 'ec2-user') { $passwd += "${user}:x:${uid}:${gid}::/home/${user}:/bin/sh"; $group += "${user}:x:${gid}:" }
    Set-Content -LiteralPath (Join-Path $root 'etc/passwd') -Value ($passwd -join "`n") -NoNewline
    Set-Content -LiteralPath (Join-Path $root 'etc/group') -Value ($group -join "`n") -NoNewline
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
    param([int] $Nodes = 3, [int] $Offline = 1, [int] $Slow = 0)
    $dll = Get-ChildItem -Path (Join-Path $script:RepoRoot 'tests/S3Mount.FakeSsm.Host/bin') -Recurse -Filter 'S3Mount.FakeSsm.Host.dll' |
        Sort-Object LastWriteTime -Descending | Select-Object -First 1
    if (-not $dll) { throw "tests/S3Mount.FakeSsm.Host is not built: run 'dotnet build S3Mount.slnx'." }
    $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in @($dll.FullName, '--nodes', "$Nodes", '--offline', "$Offline", '--slow', "$Slow")) { $psi.ArgumentList.Add($a) }
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

function Get-FakeSsmState {
    # What the fake SSM received so far: calls per operation and every command (id, instances, comment, cancelled, script).
    param([Parameter(Mandatory)] $Fake)
    $Fake.Process.StandardInput.WriteLine('state')
    $Fake.Process.StandardInput.Flush()
    $Fake.Process.StandardOutput.ReadLine() | ConvertFrom-Json
}

function Stop-FakeSsm {
    param($Fake)
    if ($Fake -and -not $Fake.Process.HasExited) {
        $Fake.Process.StandardInput.Close()
        if (-not $Fake.Process.WaitForExit(10000)) { $Fake.Process.Kill() }
    }
}
