# Shared setup for the Pester tests: the built module (out/S3Mount, produced by 'dotnet build S3Mount.slnx'),
# and helpers. Dot-sourced from BeforeAll blocks.
$script:RepoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '..' '..')).Path
$script:ModuleManifest = Join-Path $script:RepoRoot 'out' 'S3Mount' 'S3Mount.psd1'
if (-not (Test-Path -LiteralPath $script:ModuleManifest)) {
    throw "The module is not built: run 'dotnet build S3Mount.slnx' (or ./build.ps1) first. Expected $script:ModuleManifest"
}

$script:LabScript = Join-Path $script:RepoRoot 'tests/lab/lab.sh'

function Get-LabUnavailableReason {
    # Why the node lab cannot run on this machine (what S3Mount.Lab's NodeLab checks), or nothing.
    if (-not $IsLinux) { return 'the node lab needs Linux' }
    $uid = (& id -u).Trim()
    if ($uid -ne '0') { return "the node lab needs root (running as uid $uid)" }
    foreach ($tool in 'systemd-nspawn', 'debootstrap', 'nsenter') {
        if (-not (Get-Command $tool -CommandType Application -ErrorAction SilentlyContinue)) { return "$tool is not installed (bash .ci/setup)" }
    }
    if (-not (Test-Path -LiteralPath /dev/fuse)) { return '/dev/fuse is missing (FUSE is not available)' }
}

function Invoke-Lab {
    # tests/lab/lab.sh for the lab S3MOUNT_LAB_ID names; returns its stdout lines, or throws with its output.
    param([Parameter(Mandatory)] [string[]] $Arguments)
    $out = & $script:LabScript @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw "lab.sh $($Arguments -join ' ') exited with $LASTEXITCODE`:`n$($out -join "`n")" }
    @($out | Where-Object { $_ -is [string] })
}

function Enter-TestLab {
    # Points lab.sh (and the fake SSM's lab nodes) at a lab of this test's own, "<S3MOUNT_LAB_ID or pester>-NAME-<PID>",
    # owned by this pwsh (its watchdog destroys it as soon as this process dies), whose new nodes have no mount-s3;
    # destroys what an interrupted earlier run of it left. Returns the environment Exit-TestLab restores.
    param([Parameter(Mandatory)] [string] $Name)
    $saved = @{}
    $labEnv = @{
        S3MOUNT_LAB_ID      = "$(if ($env:S3MOUNT_LAB_ID) { $env:S3MOUNT_LAB_ID } else { 'pester' })-$Name-$PID"
        S3MOUNT_LAB_OWNER   = "$PID"
        S3MOUNT_LAB_STANDIN = '0'
    }
    foreach ($k in $labEnv.Keys) {
        $saved[$k] = [System.Environment]::GetEnvironmentVariable($k)
        [System.Environment]::SetEnvironmentVariable($k, $labEnv[$k])
    }
    $null = Invoke-Lab destroy-all
    $saved
}

function Exit-TestLab {
    # Destroys the test's lab (nodes, servers, mounts, state) and restores the environment Enter-TestLab changed.
    param($Saved)
    if (-not $Saved) { return }
    try { $null = Invoke-Lab destroy-all }
    finally {
        foreach ($k in $Saved.Keys) { [System.Environment]::SetEnvironmentVariable($k, $Saved[$k]) }
    }
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
    # Starts the fake SSM service (tests/S3Mount.FakeSsm.Host) with sandbox and simulated nodes; returns its settings and
    # process. The simulated node kinds (see the host's Program.cs) come back in .Simulated, by kind. -Tag 'KEY=VALUE':
    # tags of the sandbox, offline and simulated nodes. -LabNode 'NAME[,KEY=VALUE]...': booted nodes of the node lab
    # (tests/lab/lab.sh, the lab S3MOUNT_LAB_ID names) as instances with those tags; commands run in them as root.
    # -Key 'ACCESSKEY=SECRET': another key pair the fake accepts besides its own (.AccessKey, .SecretKey).
    param(
        [int] $Nodes = 3, [int] $Offline = 1, [int] $Slow = 0,
        [int] $Simulated = 0, [double] $MinLatency = 0.2, [double] $MaxLatency = 1.0,
        [int] $Undeliverable = 0, [int] $Failing = 0, [int] $Dying = 0, [int] $StuckPending = 0, [int] $Large = 0, [int] $Huge = 0, [int] $Forged = 0,
        [int] $Throttle = 0, [int] $FailFirstSends = 0, [double] $TimeoutScale = 1.0, [string[]] $Tag = @(),
        [string[]] $Bucket = @('genomics-ref=us-east-1', 'my-bucket=us-east-1'), [string[]] $LabNode = @(), [string[]] $Key = @()
    )
    $dll = Get-ChildItem -Path (Join-Path $script:RepoRoot 'tests/S3Mount.FakeSsm.Host/bin') -Recurse -Filter 'S3Mount.FakeSsm.Host.dll' |
        Sort-Object LastWriteTime -Descending | Select-Object -First 1
    if (-not $dll) { throw "tests/S3Mount.FakeSsm.Host is not built: run 'dotnet build S3Mount.slnx'." }
    $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    $arguments = @($dll.FullName, '--nodes', "$Nodes", '--offline', "$Offline", '--slow', "$Slow",
        '--simulated', "$Simulated", '--min-latency', "$MinLatency", '--max-latency', "$MaxLatency",
        '--undeliverable', "$Undeliverable", '--failing', "$Failing", '--dying', "$Dying", '--stuck-pending', "$StuckPending",
        '--large', "$Large", '--huge', "$Huge", '--forged', "$Forged", '--throttle', "$Throttle", '--fail-first-sends', "$FailFirstSends", '--timeout-scale', "$TimeoutScale")
    foreach ($t in $Tag) { $arguments += @('--tag', $t) }
    foreach ($b in $Bucket) { $arguments += @('--bucket', $b) }
    foreach ($n in $LabNode) { $arguments += @('--lab-node', $n) }
    foreach ($k in $Key) { $arguments += @('--key', $k) }
    if ($LabNode) { $arguments += @('--lab-script', (Join-Path $script:RepoRoot 'tests/lab/lab.sh')) }
    foreach ($a in $arguments) { $psi.ArgumentList.Add([string]$a) }
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($psi)
    $line = $process.StandardOutput.ReadLine()
    if (-not $line) { throw 'The fake SSM service did not start.' }
    $settings = $line | ConvertFrom-Json
    [pscustomobject]@{
        Process    = $process
        Endpoint   = $settings.endpoint
        S3Endpoint = $settings.s3Endpoint
        Region     = $settings.region
        AccessKey  = $settings.accessKey
        SecretKey  = $settings.secretKey
        Instances  = @($settings.instances)
        Offline    = @($settings.offline)
        Simulated  = $settings.simulated
        Sandbox    = $settings.sandbox
        Tags       = $settings.tags
        LabNodes   = @($settings.labNodes)
    }
}

function Get-FakeSsmState {
    # What the fake SSM received so far: calls per operation, throttled calls, the fake S3's requests, and every command
    # (id, instances, comment, cancelled, script).
    param([Parameter(Mandatory)] $Fake)
    $Fake.Process.StandardInput.WriteLine('state')
    $Fake.Process.StandardInput.Flush()
    $Fake.Process.StandardOutput.ReadLine() | ConvertFrom-Json
}

function Invoke-FleetCallAndStop {
    # Ctrl+C in the middle of a fleet call: runs $Command in a runspace, waits until the fake has received $Commands
    # commands, then stops the pipeline. Returns the stopped [powershell] (the caller disposes it), whether it had
    # finished when Stop returned, how long Stop took and how many commands were on their way before it.
    param([Parameter(Mandatory)] $Fake, [Parameter(Mandatory)] [string] $Command, [int] $Commands = 1)
    $ps = [powershell]::Create()
    $null = $ps.AddScript($Command)
    $handle = $ps.BeginInvoke()
    $deadline = [datetime]::UtcNow.AddSeconds(60)
    do {
        Start-Sleep -Milliseconds 200
        $state = Get-FakeSsmState $Fake
    } until (@($state.commands).Count -ge $Commands -or [datetime]::UtcNow -gt $deadline)
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $ps.Stop()
    [pscustomobject]@{ PowerShell = $ps; Completed = $handle.IsCompleted; StopSeconds = $watch.Elapsed.TotalSeconds; CommandsBeforeStop = @($state.commands).Count }
}

function Stop-FakeSsm {
    param($Fake)
    if ($Fake -and -not $Fake.Process.HasExited) {
        $Fake.Process.StandardInput.Close()
        if (-not $Fake.Process.WaitForExit(10000)) { $Fake.Process.Kill() }
    }
}

function Start-TestS3 {
    # A loopback S3 server (s3rver 3.7.1 from npm, as the node lab uses it) with the given buckets; $null where node or
    # npm are missing (an error under CI). The node lab's npm cache is used when it is there, else .tools/.
    param([string[]] $Buckets = @())
    $version = '3.7.1'
    $cache = if ($env:S3MOUNT_LAB_CACHE) { $env:S3MOUNT_LAB_CACHE } else { '/var/cache/s3mount-lab' }
    $js = @((Join-Path $cache "npm-s3rver-$version/node_modules/s3rver/bin/s3rver.js"), (Join-Path $script:RepoRoot ".tools/npm-s3rver-$version/node_modules/s3rver/bin/s3rver.js")) |
        Where-Object { Test-Path -LiteralPath $_ } | Select-Object -First 1
    if (-not $js -and (Get-Command npm -ErrorAction SilentlyContinue)) {
        $prefix = Join-Path $script:RepoRoot ".tools/npm-s3rver-$version"
        & npm install --no-audit --no-fund --no-save --prefix $prefix "s3rver@$version" *> $null
        $js = Join-Path $prefix 'node_modules/s3rver/bin/s3rver.js'
    }
    if (-not $js -or -not (Test-Path -LiteralPath $js) -or -not (Get-Command node -ErrorAction SilentlyContinue)) {
        if ($env:CI) { throw 's3rver (node and npm) is required under CI.' }
        return $null
    }
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    $port = $listener.LocalEndpoint.Port
    $listener.Stop()
    $data = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-s3rver-' + [guid]::NewGuid().ToString('N'))
    $null = New-Item -ItemType Directory -Path $data
    $psi = [System.Diagnostics.ProcessStartInfo]::new((Get-Command node).Source)
    foreach ($a in @($js, '-d', $data, '-a', '127.0.0.1', '-p', "$port", '--allow-mismatched-signatures', '--silent')) { $psi.ArgumentList.Add($a) }
    foreach ($b in $Buckets) { $psi.ArgumentList.Add('--configure-bucket'); $psi.ArgumentList.Add($b) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($psi)
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while ([DateTime]::UtcNow -lt $deadline) {
        try { $c = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $port); $c.Dispose(); break } catch { Start-Sleep -Milliseconds 200 }
        if ($process.HasExited) { throw "s3rver exited: $($process.StandardError.ReadToEnd())" }
    }
    [pscustomobject]@{ Process = $process; Endpoint = "http://127.0.0.1:$port"; Data = $data }
}

function Stop-TestS3 {
    param($S3)
    if ($S3) {
        if (-not $S3.Process.HasExited) { $S3.Process.Kill(); $null = $S3.Process.WaitForExit(10000) }
        Remove-Item -LiteralPath $S3.Data -Recurse -Force -ErrorAction SilentlyContinue
    }
}
