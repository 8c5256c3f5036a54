# The admin's session for the README's fleet tour, run by tests/pester/ReadmeFleet.Tests.ps1 in a fresh pwsh
# (dot-sourced from -Command, so everything here and in the tour runs in the global scope, as typed at a prompt):
#   1. what an AWS.Tools user has before the tour: AWS.Tools (the stand-ins of AwsToolsStandIn.ps1 over the real AWS
#      SDK that AWS.Tools 5 ships), credentials in $StoredAWSCredentials as Set-AWSCredential leaves them, S3Mount
#      installed in a folder of $env:PSModulePath (not imported: the tour's first S3Mount command autoloads it);
#   2. where this machine's AWS is: the SSM endpoint in AWS_ENDPOINT_URL_SSM, the SDKs' standard variable, which
#      S3Mount honours like AWS.Tools (the tour names no -EndpointUrl), and S3 (the bucket check) in AWS_ENDPOINT_URL_S3; EC2 answers from the stand-in's inventory;
#      the package mirror (the lab's signed package server) in $PSDefaultParameterValues, as a mirror's admin sets it;
#   3. the tour, statement by statement, each exactly as the README writes it; after each one the state of every node
#      (read with lab.sh exec, never through S3Mount), its output, warnings and error records.
# Prints one line 'FLEET-TOUR <json>' with all of it.
param([Parameter(Mandatory)] [string] $ConfigPath)
$cfg = Get-Content -Raw -LiteralPath $ConfigPath | ConvertFrom-Json

# 1. AWS.Tools, its credentials, S3Mount where Install-Module would put it.
. (Join-Path $PSScriptRoot 'AwsToolsStandIn.ps1') -SdkDirectory $cfg.SdkDirectory
foreach ($i in $cfg.Ec2Instances) {
    $tags = @{}
    $i.Tags.PSObject.Properties | ForEach-Object { $tags[$_.Name] = $_.Value }
    Add-EC2StandInInstance -ReservationId $i.ReservationId -InstanceId $i.InstanceId -InstanceType $i.InstanceType -PrivateIpAddress $i.PrivateIpAddress -Tag $tags
}
$StoredAWSCredentials = New-AWSPSCredentialsStandIn -AccessKey $cfg.AccessKey -SecretKey $cfg.SecretKey
$env:PSModulePath = $cfg.ModuleFolder + [System.IO.Path]::PathSeparator + $env:PSModulePath

# 2. Where AWS and the package mirror are; nothing else of this machine's AWS settings may take part.
foreach ($v in 'AWS_ACCESS_KEY_ID', 'AWS_ACCESS_KEY', 'AWS_SECRET_ACCESS_KEY', 'AWS_SECRET_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL', 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS') {
    Remove-Item -LiteralPath "Env:$v" -ErrorAction SilentlyContinue
}
$env:AWS_ENDPOINT_URL_SSM = $cfg.SsmEndpoint
# S3 is the lab's S3 server, which the nodes' mount-s3 reaches too: New-S3MountService's bucket check goes there
# through AWS_ENDPOINT_URL_S3, the SDKs' variable for it.
$env:AWS_ENDPOINT_URL_S3 = $cfg.S3Endpoint
$env:AWS_SHARED_CREDENTIALS_FILE = $cfg.NoFile
$env:AWS_CONFIG_FILE = $cfg.NoFile
$env:AWS_EC2_METADATA_DISABLED = 'true'
$PSDefaultParameterValues['Install-MountpointS3:ReleaseUrl'] = $cfg.ReleaseUrl
$PSDefaultParameterValues['Install-MountpointS3:TrustedFingerprint'] = $cfg.Fingerprint

function Get-FleetTourNodeState {
    # Every node's own view, read in parallel through lab.sh exec: mount-s3 package and binary, mountpoint-s3 unit files
    # and units (systemd's state, user, main PID), FUSE mounts, /mnt/results; while it is mounted, ec2-user reads the
    # seeded object through it and writes one (into the bucket, for the test to read back from S3).
    param([Parameter(Mandatory)] [string] $Step)
    $probe = @'
echo "package=$(dpkg-query -W -f '${Status} ${Version}' mount-s3 2>/dev/null)"
echo "version=$(mount-s3 --version 2>/dev/null)"
for f in /etc/systemd/system/mountpoint-s3-*.service /etc/systemd/system/*.wants/mountpoint-s3-*.service; do
  if [ -e "$f" ] || [ -L "$f" ]; then echo "file=$f"; fi
done
for u in $(systemctl list-units --all --plain --no-legend 'mountpoint-s3-*' | awk '{print $1}'); do
  echo "unit=$u $(systemctl show -p LoadState,ActiveState,SubState,User,MainPID,NRestarts "$u" | tr '\n' ' ')"
done
grep -E ' - fuse(\.[^ ]*)? ' /proc/self/mountinfo | sed 's/^/mount=/'
echo "uid=$(id -u ec2-user)"
# As ec2-user: a FUSE mount without --allow-other is closed to every other user, root included.
if [ -e /mnt/results ] || grep -q ' /mnt/results ' /proc/self/mountinfo; then echo "dir=$(runuser -u ec2-user -- stat -c '%U:%G %a' /mnt/results 2>&1)"; fi
if grep -q ' /mnt/results .* - fuse' /proc/self/mountinfo; then
  echo "read=$(runuser -u ec2-user -- cat /mnt/results/input.txt 2>&1)"
  echo "write=$(runuser -u ec2-user -- sh -c 'echo "written by $(id -un) on $(hostname)" >"/mnt/results/$1-$(hostname).txt" && echo ok' sh "$0" 2>&1)"
fi
'@
    $runs = foreach ($n in $cfg.Nodes) {
        $psi = [System.Diagnostics.ProcessStartInfo]::new($cfg.LabScript)
        foreach ($a in 'exec', $n.Name, '/bin/sh', '-c', $probe, $Step) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $p = [System.Diagnostics.Process]::Start($psi)
        [pscustomobject]@{ Node = $n; Process = $p; Out = $p.StandardOutput.ReadToEndAsync(); Err = $p.StandardError.ReadToEndAsync() }
    }
    $state = [ordered]@{}
    foreach ($r in $runs) {
        $r.Process.WaitForExit()
        $lines = @($r.Out.Result -split "`n" | Where-Object { $_ })
        $one = [ordered]@{ Exit = $r.Process.ExitCode; Stderr = $r.Err.Result; Files = @(); Units = @(); Mounts = @() }
        foreach ($l in $lines) {
            $k, $v = $l -split '=', 2
            switch ($k) {
                'file' { $one.Files += $v }
                'unit' { $one.Units += $v }
                'mount' { $one.Mounts += $v }
                default { $one[$k] = $v }
            }
        }
        $state[$r.Node.InstanceId] = $one
    }
    $state
}

function ConvertTo-FleetTourRecord {
    # An output object as its type name and its properties as text (lists joined with ', ').
    param([Parameter(Mandatory)] $InputObject)
    $h = [ordered]@{ Type = $InputObject.PSObject.TypeNames[0] }
    foreach ($p in $InputObject.PSObject.Properties) {
        try { $v = $p.Value } catch { $Error.RemoveAt(0); continue } # a getter that throws is no error of the tour
        $h[$p.Name] = if ($v -is [System.Collections.IEnumerable] -and $v -isnot [string]) { @($v | ForEach-Object { "$_" }) -join ', ' } else { "$v" }
    }
    $h
}

# 3. The tour: each statement of the README block, in order, as written.
$parseErrors = $null
$tourAst = [System.Management.Automation.Language.Parser]::ParseInput($cfg.Code, [ref]$null, [ref]$parseErrors)
$report = [ordered]@{ ParseErrors = @($parseErrors | ForEach-Object { "$_" }); Before = Get-FleetTourNodeState -Step before; Steps = @() }
$Error.Clear()
$n = 0
foreach ($statement in $tourAst.EndBlock.Statements) {
    $n++
    $errorsBefore = $Error.Count
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $emitted = @(. ([scriptblock]::Create($statement.Extent.Text)) 3>&1)
    $seconds = $sw.Elapsed.TotalSeconds
    $newErrors = @($Error | Select-Object -First ($Error.Count - $errorsBefore))
    $report.Steps += [ordered]@{
        Statement     = $statement.Extent.Text
        Line          = $statement.Extent.StartLineNumber
        Seconds       = [math]::Round($seconds, 2)
        Output        = @($emitted | Where-Object { $_ -isnot [System.Management.Automation.WarningRecord] } | ForEach-Object { ConvertTo-FleetTourRecord $_ })
        Warnings      = @($emitted | Where-Object { $_ -is [System.Management.Automation.WarningRecord] } | ForEach-Object { $_.Message })
        Errors        = @($newErrors | ForEach-Object { [ordered]@{ Id = "$($_.FullyQualifiedErrorId)"; Message = "$_"; Target = "$($_.TargetObject)" } })
        StoredRegion  = $global:StoredAWSRegion
        Nodes         = @($global:nodes | Where-Object { $null -ne $_ } | ForEach-Object { [ordered]@{ Type = $_.GetType().FullName; Assembly = $_.GetType().Assembly.Location; InstanceId = $_.InstanceId } })
        S3MountLoaded = [bool](Get-Module S3Mount)
        State         = Get-FleetTourNodeState -Step "step$n"
    }
}
$report.ErrorCount = $Error.Count
$report.AllErrors = @($Error | ForEach-Object { "$($_.FullyQualifiedErrorId): $_ $($_.ScriptStackTrace)" })
# What systemd logged about the mount units on each node (for the test's output when a statement is slow).
$report.Journal = [ordered]@{}
foreach ($node in $cfg.Nodes) {
    $report.Journal[$node.InstanceId] = @(& $cfg.LabScript exec $node.Name journalctl --no-pager -o short-precise -u 'mountpoint-s3-*' 2>&1 | ForEach-Object { "$_" })
}
'FLEET-TOUR ' + ($report | ConvertTo-Json -Compress -Depth 8)
