#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The README's fleet tour ("A tour: a fleet", the block marked <!-- readme-test: fleet -->), read from README.md at run
# time and run verbatim, statement by statement, in a fresh pwsh (tests/pester/ReadmeFleetSession.ps1) against three
# booted lab nodes (tests/lab/lab.sh, real systemd and FUSE, no mount-s3 at first, an ec2-user account) behind the fake
# SSM (tests/S3Mount.FakeSsm.Host --lab-node: every command runs in the node as root, as the SSM agent runs it), tagged
# Cluster=pcluster-1, beside a node of another cluster (a sandbox node tagged Cluster=pcluster-2) that nothing may reach.
#
# What the block needs from outside, and how it gets it (nothing of it is in the block, which names no endpoint):
#   - AWS.Tools (not installed: the PowerShell Gallery is not served): tests/pester/AwsToolsStandIn.ps1 compiles
#     Set-DefaultAWSRegion and Get-EC2Instance against the real AWS SDK AWS.Tools 5 ships (AWSSDK.Core 4.0.102.14,
#     AWSSDK.EC2 4.0.129.1, loaded by path into the default load context as AWS.Tools loads it), so $nodes holds real
#     Amazon.EC2.Model.Instance objects with their tags, filtered by tag as EC2 filters.
#   - credentials: $StoredAWSCredentials as Set-AWSCredential leaves it (AWS.Tools' AWSPSCredentials wrapper around that
#     SDK's BasicAWSCredentials), holding the fake's key: the fake checks every SigV4 signature.
#   - the SSM endpoint: AWS_ENDPOINT_URL_SSM, the AWS SDKs' standard variable, which S3Mount honours as AWS.Tools does.
#     Not $PSDefaultParameterValues['*:EndpointUrl']: -EndpointUrl exists only in the fleet parameter sets, so a default
#     for it is bound before piped input and moves location-less commands into those sets (a plain Get-S3MountService
#     in that session would no longer list this machine).
#   - the package mirror: the lab's signed package server and its key fingerprint in
#     $PSDefaultParameterValues['Install-MountpointS3:ReleaseUrl'/'TrustedFingerprint'] (parameters of every set of
#     Install-MountpointS3, so no set changes), as a mirror's admin sets them; the signature is checked on every node.
# Needs root; without root it skips with the reason, except under CI=true, where a lab that cannot start fails.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Shared.ps1')
    . (Join-Path $PSScriptRoot 'ReadmeBlocks.ps1')
}

Describe 'The README fleet tour, verbatim, on three lab nodes behind the fake SSM' {
    BeforeAll {
        $block = @(Get-ReadmeBlock | Where-Object Kind -EQ 'fleet')
        $skipReason = Get-LabUnavailableReason
        if ($skipReason -and $env:CI -ne 'true') { return }
        if ($skipReason) { throw "The node lab cannot start here: $skipReason. Under CI=true this fails instead of skipping." }
        if ($block.Count -ne 1) { throw "README.md must have exactly one block marked <!-- readme-test: fleet --> (found $($block.Count))." }

        $timings = [ordered]@{}
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $savedLabEnv = Enter-TestLab -Name fleet
        $s3 = @(Invoke-Lab s3, start)[-1].Trim()
        $pkg = @{}
        foreach ($line in Invoke-Lab pkg, serve) { $k, $v = $line -split '=', 2; $pkg[$k] = $v }
        $timings['lab servers'] = $sw.Elapsed.TotalSeconds

        # The cluster: a head node and two compute nodes (two EC2 reservations), each with an ec2-user account.
        $sw.Restart()
        $cluster = @(
            @{ Name = 'pc1-head'; Role = 'head'; Reservation = 'r-0aaa00000000000a1'; Type = 'c5.xlarge'; Ip = '10.0.0.10' }
            @{ Name = 'pc1-compute1'; Role = 'compute'; Reservation = 'r-0aaa00000000000a2'; Type = 'hpc7a.96xlarge'; Ip = '10.0.1.11' }
            @{ Name = 'pc1-compute2'; Role = 'compute'; Reservation = 'r-0aaa00000000000a2'; Type = 'hpc7a.96xlarge'; Ip = '10.0.1.12' }
        )
        $null = Invoke-Lab (@('up') + $cluster.Name)
        foreach ($c in $cluster) { $null = Invoke-Lab exec, $c.Name, useradd, --create-home, ec2-user }
        $timings['3 nodes up, ec2-user created'] = $sw.Elapsed.TotalSeconds

        # The bucket of the tour on the lab's S3 server, with an object the mount must show.
        foreach ($put in @(@{ Uri = "$s3/results" }, @{ Uri = "$s3/results/run-42/input.txt"; Body = 'run 42 input' })) {
            $reply = Invoke-WebRequest -Method Put @put -SkipHttpErrorCheck
            if ($reply.StatusCode -notin 200, 409) { throw "PUT $($put.Uri) answered HTTP $($reply.StatusCode)" }
        }

        # The fake SSM: the lab nodes tagged as ParallelCluster tags its instances, and another cluster's node.
        # The admin's one key pair reaches SSM and S3, as on AWS: the lab S3 server's (S3_KEY in tests/lab/lab.sh).
        $fake = Start-FakeSsm -Nodes 1 -Offline 0 -Tag 'Cluster=pcluster-2' -Key 'S3RVER=S3RVER' -LabNode @(
            $cluster | ForEach-Object { "$($_.Name),Cluster=pcluster-1,Name=pcluster-1-$($_.Name -replace '^pc1-'),parallelcluster:node-type=$($_.Role)" })
        $labIds = @($fake.LabNodes.instanceId)
        $neighbour = $fake.Instances[0]
        $ec2 = @(for ($i = 0; $i -lt $cluster.Count; $i++) {
                $lab = $fake.LabNodes[$i]
                @{ ReservationId = $cluster[$i].Reservation; InstanceId = $lab.instanceId; InstanceType = $cluster[$i].Type; PrivateIpAddress = $cluster[$i].Ip; Tags = $lab.tags }
            }) + @{ ReservationId = 'r-0bbb00000000000b1'; InstanceId = $neighbour; InstanceType = 'c5.large'; PrivateIpAddress = '10.1.0.10'; Tags = $fake.Tags }

        $work = Join-Path ([System.IO.Path]::GetTempPath()) "s3mount-readmefleet-$PID"
        $null = New-Item -ItemType Directory -Force -Path $work
        $config = Join-Path $work 'session.json'
        @{
            Code          = $block[0].Code
            SdkDirectory  = Join-Path $RepoRoot '.tools/awssdk/4.0.102.14'
            ModuleFolder  = Split-Path -Parent (Split-Path -Parent $ModuleManifest)
            Ec2Instances  = $ec2
            AccessKey     = 'S3RVER'
            SecretKey     = 'S3RVER'
            SsmEndpoint   = $fake.Endpoint
            S3Endpoint    = $s3
            NoFile        = Join-Path $work 'no-such-aws-file'
            ReleaseUrl    = $pkg['base']
            Fingerprint   = $pkg['fingerprint']
            LabScript     = $LabScript
            Nodes         = @($fake.LabNodes | ForEach-Object { @{ Name = $_.name; InstanceId = $_.instanceId } })
        } | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $config

        $sw.Restart()
        $out = @(Invoke-FreshPwsh ". '$(Join-Path $PSScriptRoot 'ReadmeFleetSession.ps1')' -ConfigPath '$config'" | ForEach-Object { "$_" })
        $timings['fresh pwsh: stand-ins, the tour and its probes'] = $sw.Elapsed.TotalSeconds
        $sessionText = $out -join "`n"
        $line = $out | Where-Object { $_ -like 'FLEET-TOUR *' } | Select-Object -Last 1
        $tour = if ($line) { $line.Substring('FLEET-TOUR '.Length) | ConvertFrom-Json }
        $state = Get-FakeSsmState $fake
        $commands = @($state.commands)
        $sent = @($state.sent)
        if ($tour) {
            # README line of a statement: the block's marker line, its opening fence, then the statement's line in the block.
            foreach ($s in $tour.Steps) { Write-Host ("    TIMING README line {0} ({1:0.0} s): {2}" -f ($block[0].Line + 1 + $s.Line), $s.Seconds, $s.Statement) }
            if (@($tour.Steps | Where-Object Seconds -GT 20)) {
                foreach ($j in $tour.Journal.PSObject.Properties) { $j.Value | ForEach-Object { Write-Host "    journal $($j.Name) | $_" } }
                foreach ($s in $tour.Steps) { foreach ($n in $s.State.PSObject.Properties) { $n.Value.Units | ForEach-Object { Write-Host "    README line $($block[0].Line + 1 + $s.Line) $($n.Name) | $_" } } }
            }
        }
        else {
            Write-Host "    the session did not report:`n$sessionText"
        }
        $timings.GetEnumerator() | ForEach-Object { Write-Host ("    TIMING {0}: {1:0.0} s" -f $_.Key, $_.Value) }

        function Get-Step {
            # The report of the tour statement that starts with this text.
            param([Parameter(Mandatory)] [string] $Start)
            $step = @($tour.Steps | Where-Object { $_.Statement.StartsWith($Start) })
            if ($step.Count -ne 1) { throw "no single statement of the tour starts with '$Start' (README changed?): $(@($tour.Steps.Statement) -join ' | ')" }
            $step[0]
        }

        function Get-S3Object {
            # An object from the lab's S3 server (its body), or $null when it is not there.
            param([Parameter(Mandatory)] [string] $Key)
            $r = Invoke-WebRequest -Uri "$s3/results/$Key" -SkipHttpErrorCheck
            if ($r.StatusCode -eq 200) { if ($r.Content -is [byte[]]) { [System.Text.Encoding]::UTF8.GetString($r.Content) } else { $r.Content } }
        }
    }

    AfterAll {
        Stop-FakeSsm $fake
        Exit-TestLab $savedLabEnv
        if ($work) { Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue }
    }

    BeforeEach {
        if ($skipReason) { Set-ItResult -Skipped -Because $skipReason }
    }

    It 'runs every statement of the README block, in order, with no error record' {
        $tour | Should -Not -BeNullOrEmpty -Because "the session reports back:`n$sessionText"
        @($tour.ParseErrors) | Should -BeNullOrEmpty
        $code = ($block[0].Code -split "`n" | ForEach-Object { ($_ -replace '\s+#.*$', '').Trim() } | Where-Object { $_ }) -join "`n"
        (@($tour.Steps.Statement) -join "`n") | Should -Be $code -Because 'the session runs exactly the README''s statements'
        $errors = @($tour.Steps | ForEach-Object { $s = $_; $_.Errors | ForEach-Object { "README line $($block[0].Line + 1 + $s.Line): $($_.Id): $($_.Message)" } })
        $errors | Should -BeNullOrEmpty -Because 'the README promises no error in its fleet tour'
        $tour.ErrorCount | Should -Be 0 -Because "no error record is left in the session: $($tour.AllErrors -join '; ')"
        @($tour.Before.Values | Where-Object Exit -NE 0) | Should -BeNullOrEmpty -Because 'every node answers the probe'
    }

    It 'Set-DefaultAWSRegion sets $StoredAWSRegion, and Get-EC2Instance gives the tagged cluster''s real EC2 Instance objects' {
        (Get-Step 'Set-DefaultAWSRegion').StoredRegion | Should -Be 'us-east-1'
        $step = Get-Step '$nodes ='
        @($step.Nodes.InstanceId) | Should -Be $labIds -Because 'the filter selects the three pcluster-1 instances, not the pcluster-2 one'
        $step.Nodes | ForEach-Object {
            $_.Type | Should -Be 'Amazon.EC2.Model.Instance'
            $_.Assembly | Should -Be (Join-Path $RepoRoot '.tools/awssdk/4.0.102.14/AWSSDK.EC2.dll')
        }
        $step.S3MountLoaded | Should -BeFalse -Because 'nothing of S3Mount has run yet'
        $step.State.Values | ForEach-Object { $_.package | Should -BeNullOrEmpty -Because 'the nodes start without mount-s3' }
    }

    It '$nodes | Install-MountpointS3 installs mount-s3 1.23.0 on every node from the signed package, in one SSM command' {
        $step = Get-Step '$nodes | Install-MountpointS3'
        $step.S3MountLoaded | Should -BeTrue -Because 'the first S3Mount command autoloads the module'
        @($step.Output | Sort-Object InstanceId | ForEach-Object InstanceId) | Should -Be $labIds
        foreach ($o in $step.Output) {
            $o.Changed | Should -Be 'True'
            $o.InstalledVersion | Should -Be '1.23.0'
            $o.SignedBy | Should -Be $pkg['fingerprint'] -Because 'the package was checked against its signature with the trusted key'
            $o.PackageSource | Should -BeLike "$($pkg['base'])*"
            $o.BinaryPath | Should -Be '/usr/bin/mount-s3'
        }
        foreach ($id in $labIds) {
            $step.State.$id.package | Should -Be 'install ok installed 1.23.0'
            $step.State.$id.version | Should -Be 'mount-s3 1.23.0'
        }
        $install = @($commands | Where-Object { $_.comment -like '*install*' })
        $install.Count | Should -Be 1 -Because 'pipeline input is collected and sent as one SSM command'
        @($install[0].instanceIds | Sort-Object) | Should -Be $labIds
    }

    It '$nodes | New-S3MountService mounts s3://results/run-42/ at /mnt/results on every node: healthy, as ec2-user, read-write' {
        $step = Get-Step '$nodes | New-S3MountService'
        @($step.Output | Sort-Object InstanceId | ForEach-Object InstanceId) | Should -Be $labIds
        foreach ($o in $step.Output) {
            $o.Health | Should -Be 'Healthy'
            $o.User | Should -Be 'ec2-user'
            $o.Bucket | Should -Be 'results'
            $o.Prefix | Should -Be 'run-42/'
            $o.Path | Should -Be '/mnt/results'
            $o.Changed | Should -Be 'True'
        }
        $unit = $step.Output[0].Name
        foreach ($id in $labIds) {
            $node = $step.State.$id
            $node.Files | Should -Contain "/etc/systemd/system/$unit"
            $node.Files | Should -Contain "/etc/systemd/system/remote-fs.target.wants/$unit"
            $node.Units | Should -HaveCount 1
            $node.Units[0] | Should -Match "^$([regex]::Escape($unit)) "
            foreach ($p in 'LoadState=loaded', 'ActiveState=active', 'SubState=running', 'User=ec2-user') { " $($node.Units[0]) " | Should -Match " $p " }
            $node.Mounts | Should -HaveCount 1
            $node.Mounts[0] | Should -Match ' /mnt/results .* - fuse\S* mountpoint-s3 '
            $node.Mounts[0] | Should -Match "[ ,]user_id=$($node.uid)," -Because 'ec2-user mounted it'
            $node.dir | Should -Match '^ec2-user:' -Because 'the mount is owned by the service user'
            $node.read | Should -Be 'run 42 input' -Because 'ec2-user reads the bucket''s prefix through the mount'
            $node.write | Should -Be 'ok' -Because '-AllowDelete makes a read-write mount ec2-user writes through'
        }
        foreach ($l in $fake.LabNodes) {
            Get-S3Object "run-42/step4-$($l.name).txt" | Should -Match "^written by ec2-user on $($l.name)" -Because 'what ec2-user wrote landed in s3://results/run-42/'
        }
    }

    It 'Get-S3MountService -InstanceId $nodes.InstanceId | Where-Object Health -ne Healthy | Repair-S3MountService finds nothing to repair' {
        $step = Get-Step 'Get-S3MountService -InstanceId'
        @($step.Output) | Should -BeNullOrEmpty -Because 'every mount is healthy, so nothing reaches Repair'
        $created = Get-Step '$nodes | New-S3MountService'
        $list = @($commands | Where-Object { $_.comment -like '*list*' })
        $list.Count | Should -BeGreaterOrEqual 1
        @($list[0].instanceIds | Sort-Object) | Should -Be $labIds -Because 'the list went to the three nodes by id'
        @($commands | Where-Object { $_.comment -like '*repair*' }) | Should -BeNullOrEmpty -Because 'no repair was sent'
        foreach ($id in $labIds) {
            # The same daemon still mounts (nothing restarted), and it still answers.
            ($step.State.$id.Units[0] -replace ' NRestarts=\S+', '') | Should -Be ($created.State.$id.Units[0] -replace ' NRestarts=\S+', '')
            $step.State.$id.Mounts | Should -Be $created.State.$id.Mounts
            $step.State.$id.read | Should -Be 'run 42 input'
        }
    }

    It 'Get-S3MountService -Target ''tag:Cluster=pcluster-1'' -Bucket results | Remove-S3MountService removes the mount from every node' {
        $step = Get-Step "Get-S3MountService -Target 'tag:Cluster=pcluster-1'"
        @($step.Output) | Should -BeNullOrEmpty -Because 'Remove-S3MountService outputs nothing (what it removed goes to -Verbose)'
        $unit = (Get-Step '$nodes | New-S3MountService').Output[0].Name
        $remove = @($commands | Where-Object comment -EQ 'S3Mount remove')
        $remove.Count | Should -Be 1 -Because 'the three listed services go to Remove and out as one SSM command'
        $remove[0].script | Should -Match ([regex]::Escape($unit)) -Because 'Remove got the services Get-S3MountService -Target listed'
        foreach ($id in $labIds) {
            $node = $step.State.$id
            @($node.Files) | Should -BeNullOrEmpty -Because 'the unit file and its enable link are gone'
            @($node.Units | Where-Object { $_ -notmatch 'LoadState=not-found' }) | Should -BeNullOrEmpty -Because 'systemd knows no mountpoint-s3 unit any more'
            @($node.Mounts) | Should -BeNullOrEmpty -Because 'nothing is mounted any more'
            $node.read | Should -BeNullOrEmpty
            $node.package | Should -Be 'install ok installed 1.23.0' -Because 'removing a mount leaves mount-s3 installed'
        }
    }

    It 'sends five SSM commands, each to the three pcluster-1 nodes (the -Target one resolved by tag), none to the other cluster' {
        @($sent.comment) | Should -Be @('S3Mount install', 'S3Mount create', 'S3Mount list', 'S3Mount list', 'S3Mount remove')
        $state.calls.SendCommand | Should -Be 5
        @($sent[3].instanceIds) | Should -BeNullOrEmpty
        @($sent[3].targets).Count | Should -Be 1
        $sent[3].targets[0].Key | Should -Be 'tag:Cluster'
        @($sent[3].targets[0].Values) | Should -Be @('pcluster-1')
        foreach ($i in 0, 1, 2, 4) { @($sent[$i].instanceIds | Sort-Object) | Should -Be $labIds -Because "$($sent[$i].comment) went to the piped or named instances" }
        $commands | ForEach-Object { @($_.instanceIds | Sort-Object) | Should -Be $labIds }
        @($commands | Where-Object { @($_.instanceIds) -contains $neighbour }) | Should -BeNullOrEmpty -Because 'the pcluster-2 node is neither in the filter nor in the target'
    }
}
