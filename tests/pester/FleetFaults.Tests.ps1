#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# Fleet faults from a real session, against the fake SSM host (tests/S3Mount.FakeSsm.Host): throttling, undeliverable
# and failing nodes, an agent that dies mid-command, invocations that stay Pending past the delivery timeout, output
# cut at 2,500 and 24,000 characters. Whatever happens, every node gets exactly one object or one error.
Describe 'A fleet with every fault at once' -Skip:(-not $IsLinux) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Shared.ps1')
        # 100 simulated nodes (0.2-2 s each) and one offline; 20% of all calls throttled.
        $fake = Start-FakeSsm -Nodes 0 -Offline 1 -Simulated 100 -MinLatency 0.2 -MaxLatency 2 -Throttle 20 `
            -Undeliverable 5 -Failing 5 -Dying 1 -StuckPending 1 -Large 3 -Huge 2
        $kinds = $fake.Simulated
        $all = @($fake.Offline) + @($kinds.PSObject.Properties | ForEach-Object { $_.Value })
        $ps = [powershell]::Create()
        $null = $ps.AddScript({
                param($Manifest, $Ids, $Fake)
                Import-Module $Manifest
                $watch = [System.Diagnostics.Stopwatch]::StartNew()
                # Delivery 30 s (SSM's minimum) + execution 5 s: the dead agent's and the stuck node's deadline.
                Get-MountpointS3 -InstanceId $Ids -EndpointUrl $Fake.Endpoint -Region $Fake.Region -AccessKey $Fake.AccessKey -SecretKey $Fake.SecretKey `
                    -TimeoutSeconds 30 -ExecutionTimeoutSeconds 5 -Verbose
                "ELAPSED $($watch.Elapsed.TotalSeconds)"
            }).AddArgument($ModuleManifest).AddArgument($all).AddArgument($fake)
        $out = @($ps.Invoke())
        $objects = @($out | Where-Object { $_ -isnot [string] })
        $elapsed = [double](($out | Where-Object { $_ -is [string] -and $_ -like 'ELAPSED *' }) -replace 'ELAPSED ', '')
        $errs = @($ps.Streams.Error)
        $byId = @{}
        foreach ($e in $errs) { $byId[$e.TargetObject] = ($e.FullyQualifiedErrorId -split ',')[0] }
        $state = Get-FakeSsmState $fake
    }

    AfterAll {
        if ($ps) { $ps.Dispose() }
        Stop-FakeSsm $fake
    }

    It 'gives exactly one object or one error per node' {
        ($objects.Count + $errs.Count) | Should -Be $all.Count
        $seen = @($objects.InstanceId) + @($errs.TargetObject)
        @($seen | Sort-Object -Unique).Count | Should -Be $all.Count
        @($seen | Sort-Object) | Should -Be @($all | Sort-Object)
    }

    It 'returns an object for every healthy node, also when its output was longer than the 2,500 characters of the invocation list' {
        $expected = @($kinds.ok) + @($kinds.large)
        @($objects.InstanceId | Sort-Object) | Should -Be @($expected | Sort-Object)
        $objects | ForEach-Object { $_.ComputerName | Should -Not -BeNullOrEmpty }
        $state.calls.GetCommandInvocation | Should -BeGreaterOrEqual $kinds.large.Count -Because 'output cut at 2,500 characters is read again with GetCommandInvocation'
    }

    It 'gives each failing kind of node its own error id' {
        $kinds.undeliverable | ForEach-Object { $byId[$_] | Should -Be 'SsmUndeliverable' }
        $kinds.failing | ForEach-Object { $byId[$_] | Should -Be 'S3MountSimulatedFailure' }
        $kinds.dying | ForEach-Object { $byId[$_] | Should -Be 'SsmCommandTimedOut' }
        $kinds.stuckPending | ForEach-Object { $byId[$_] | Should -Be 'SsmDeliveryTimedOut' }
        $kinds.huge | ForEach-Object { $byId[$_] | Should -Be 'S3MountResultTruncated' }
        $fake.Offline | ForEach-Object { $byId[$_] | Should -Be 'SsmAgentOffline' }
        $errs | ForEach-Object { $_.CategoryInfo.Category | Should -Not -Be 'NotSpecified' }
    }

    It 'absorbs 20% throttling: no node ends throttled, and the nodes SSM never finished were cancelled' {
        $state.throttled | Should -BeGreaterThan 0
        @($errs | Where-Object { $_.FullyQualifiedErrorId -like 'SsmThrottled*' }) | Should -BeNullOrEmpty
        $state.calls.CancelCommand | Should -BeGreaterOrEqual 1 -Because 'the dead agent''s and the stuck node''s invocations are cancelled at their deadline'
        $elapsed | Should -BeLessThan 90
    }

    It 'sends one command per 50 nodes and completes its progress records' {
        @($state.commands).Count | Should -Be 2 -Because '100 nodes pass the preflight (the offline one does not)'
        $records = @($ps.Streams.Progress)
        $records.Count | Should -BeGreaterThan 0
        foreach ($activity in $records | Group-Object ActivityId) {
            $activity.Group[-1].RecordType | Should -Be 'Completed'
        }
        @($ps.Streams.Verbose | Where-Object { "$_" -match 'SSM calls \(\d+ throttled\)' }).Count | Should -Be 1
    }
}

Describe 'MaxErrors in a real session' -Skip:(-not $IsLinux) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Shared.ps1')
        Import-Module $ModuleManifest -Force -ErrorAction Stop
        $fake = Start-FakeSsm -Nodes 0 -Offline 0 -Simulated 60 -MinLatency 0.1 -MaxLatency 0.3 -Failing 10 -Throttle 20
        $ids = @($fake.Simulated.PSObject.Properties | ForEach-Object { $_.Value })
    }

    AfterAll {
        Stop-FakeSsm $fake
        Remove-Module S3Mount -ErrorAction SilentlyContinue
    }

    It 'stops starting nodes once more than -MaxErrors failed, and says so for every node not started' {
        $objects = @(Get-MountpointS3 -InstanceId $ids -EndpointUrl $fake.Endpoint -Region $fake.Region -AccessKey $fake.AccessKey -SecretKey $fake.SecretKey `
                -MaxErrors 3 -MaxConcurrency 5 -ErrorVariable errs -ErrorAction SilentlyContinue)
        ($objects.Count + $errs.Count) | Should -Be 60
        $failed = @($errs | Where-Object { $_.FullyQualifiedErrorId -like 'S3MountSimulatedFailure*' })
        $notStarted = @($errs | Where-Object { $_.FullyQualifiedErrorId -like 'SsmMaxErrorsExceeded*' })
        $failed.Count | Should -BeGreaterThan 3
        $failed.Count | Should -BeLessOrEqual (3 + 5) -Because 'at most MaxConcurrency nodes run past the limit'
        ($objects.Count + $failed.Count + $notStarted.Count) | Should -Be 60
        $notStarted.Count | Should -BeGreaterThan 40
        $notStarted | ForEach-Object { $_.CategoryInfo.Category | Should -Be 'OperationStopped' }
        @((Get-FakeSsmState $fake).commands).Count | Should -Be 1 -Because 'the second batch is never sent'
    }
}

Describe 'Ctrl+C in a throttled fleet' -Skip:(-not $IsLinux) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Shared.ps1')
        $fake = Start-FakeSsm -Nodes 0 -Offline 0 -Simulated 120 -MinLatency 60 -MaxLatency 90 -Throttle 20
        $ids = @($fake.Simulated.PSObject.Properties | ForEach-Object { $_.Value })
    }

    AfterAll {
        Stop-FakeSsm $fake
    }

    It 'cancels every command it sent, returns promptly and completes the progress records' {
        $stop = Invoke-FleetCallAndStop -Fake $fake -Commands 3 -Command ("Import-Module '$ModuleManifest'; Get-MountpointS3 -InstanceId $($ids -join ',') " +
            "-EndpointUrl '$($fake.Endpoint)' -Region $($fake.Region) -AccessKey $($fake.AccessKey) -SecretKey '$($fake.SecretKey)'")
        try {
            $stop.CommandsBeforeStop | Should -Be 3 -Because 'all three commands must be on their way before Ctrl+C'
            $stop.StopSeconds | Should -BeLessThan 15 -Because 'Ctrl+C must not wait for the nodes'
            $stop.Completed | Should -BeTrue
            $stop.PowerShell.InvocationStateInfo.State | Should -Be 'Stopped'
            @((Get-FakeSsmState $fake).commands | Where-Object { -not $_.cancelled }) | Should -BeNullOrEmpty -Because 'CancelCommand is retried when throttled'
            foreach ($activity in @($stop.PowerShell.Streams.Progress) | Group-Object ActivityId) {
                $activity.Group[-1].RecordType | Should -Be 'Completed'
            }
        }
        finally { $stop.PowerShell.Dispose() }
    }
}

Describe 'Retry settings and tag targets in a real session' -Skip:(-not $IsLinux) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Shared.ps1')
        # The first two SendCommands answer 503 (the SDK's standard mode tries 3 times); 30% of calls are throttled.
        $fake = Start-FakeSsm -Nodes 0 -Offline 0 -Simulated 60 -MinLatency 0.1 -MaxLatency 0.5 -Throttle 30 -FailFirstSends 2 -Tag 'Role=compute'
        $ids = @($fake.Simulated.PSObject.Properties | ForEach-Object { $_.Value })
        $config = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-config-' + [guid]::NewGuid().ToString('N'))
        Set-Content -LiteralPath $config -Value "[default]`nretry_mode = adaptive`nmax_attempts = 1`n"
    }

    AfterAll {
        Stop-FakeSsm $fake
        Remove-Item -LiteralPath $config -ErrorAction SilentlyContinue
    }

    It 'keeps its own retry settings whatever AWS_RETRY_MODE, AWS_MAX_ATTEMPTS and ~/.aws/config say' {
        # Adaptive mode (broken in this AWSSDK.Core: ~28 s waits, then failures) or a single attempt would lose nodes here.
        $command = "`$env:AWS_RETRY_MODE='adaptive'; `$env:AWS_MAX_ATTEMPTS='1'; `$env:AWS_CONFIG_FILE='$config'; Import-Module '$ModuleManifest'; " +
            "`$w = [Diagnostics.Stopwatch]::StartNew(); " +
            "`$o = @(Get-MountpointS3 -InstanceId $($ids -join ',') -EndpointUrl '$($fake.Endpoint)' -Region $($fake.Region) -AccessKey $($fake.AccessKey) -SecretKey '$($fake.SecretKey)' -ErrorVariable e -ErrorAction SilentlyContinue); " +
            "'RESULT ' + (@{ Objects = `$o.Count; Errors = @(`$e | ForEach-Object { `$_.FullyQualifiedErrorId }); Seconds = `$w.Elapsed.TotalSeconds } | ConvertTo-Json -Compress)"
        $out = Invoke-FreshPwsh $command
        $line = @($out | Where-Object { "$_" -like 'RESULT *' }) | Select-Object -Last 1
        $line | Should -Not -BeNullOrEmpty -Because ($out | Out-String)
        $r = "$line".Substring(7) | ConvertFrom-Json
        $r.Errors | Should -BeNullOrEmpty
        $r.Objects | Should -Be 60
        $r.Seconds | Should -BeLessThan 25
        (Get-FakeSsmState $fake).calls.SendCommand | Should -BeGreaterOrEqual 4 -Because 'the two 503s were retried by the SDK'
    }

    It 'runs tag targets through one command per target set, one object per tagged node' {
        Import-Module $ModuleManifest -Force
        try {
            $before = @((Get-FakeSsmState $fake).commands).Count
            $objects = @(Get-MountpointS3 -Target 'tag:Role=compute' -EndpointUrl $fake.Endpoint -Region $fake.Region -AccessKey $fake.AccessKey -SecretKey $fake.SecretKey -ErrorVariable errs -ErrorAction SilentlyContinue)
            $errs | Should -BeNullOrEmpty
            @($objects.InstanceId | Sort-Object) | Should -Be @($ids | Sort-Object)
            @((Get-FakeSsmState $fake).commands).Count | Should -Be ($before + 1)
        }
        finally { Remove-Module S3Mount -ErrorAction SilentlyContinue }
    }
}
