#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# Fleet calls against the fake SSM service (tests/S3Mount.FakeSsm.Host): the same wire protocol as SSM Run Command,
# with simulated nodes whose file systems are sandboxes, so create, list and remove really happen on each node.
Describe 'Fleet through SSM Run Command' -Skip:(-not $IsLinux) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Shared.ps1')
        Import-Module $ModuleManifest -Force -ErrorAction Stop
        $fake = Start-FakeSsm -Nodes 3 -Offline 1
        $aws = @{ EndpointUrl = $fake.Endpoint; Region = $fake.Region; AccessKey = $fake.AccessKey; SecretKey = $fake.SecretKey }
        # New-S3MountService: the bucket check goes where mount-s3 will go (-S3EndpointUrl: the fake S3).
        $create = $aws + @{ S3EndpointUrl = $fake.S3Endpoint.TrimEnd('/'); ForcePathStyle = $true }
        $user = [System.Environment]::UserName
    }

    AfterAll {
        Stop-FakeSsm $fake
        Remove-Module S3Mount -ErrorAction SilentlyContinue
    }

    It 'creates a mount on every piped node and returns one object per node, with an error for the offline node only' {
        $nodes = @($fake.Instances + $fake.Offline) | ForEach-Object { [pscustomobject]@{ InstanceId = $_; State = 'running' } }
        $created = $nodes | New-S3MountService -Bucket genomics-ref -Path /fsx/ref -ReadOnly -User $user @create -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        @($created.InstanceId | Sort-Object) | Should -Be @($fake.Instances | Sort-Object)
        $created | ForEach-Object { $_.Changed | Should -BeTrue }
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'SsmAgentOffline*'
        $errs[0].TargetObject | Should -Be $fake.Offline[0]
    }

    It 'lists them back with InstanceId, and Get | Remove goes back to the right nodes' {
        $listed = @(Get-S3MountService -InstanceId $fake.Instances @aws)
        $listed.Count | Should -Be 3
        @($listed.InstanceId | Sort-Object) | Should -Be @($fake.Instances | Sort-Object)
        $listed | ForEach-Object { $_.Path | Should -Be '/fsx/ref' }
        $listed | Remove-S3MountService @aws -Confirm:$false
        @(Get-S3MountService -InstanceId $fake.Instances @aws).Count | Should -Be 0
    }

    It 'a node-side refusal is a non-terminating error with the script''s own id, per node' {
        $errs = $null
        New-S3MountService -InstanceId $fake.Instances -Bucket my-bucket -Path /mnt/s3 -User 'no-such-user-s3m' @create -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue |
            Should -BeNullOrEmpty
        $errs.Count | Should -Be 3
        $errs | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'S3MountUserUnknown*'; $_.CategoryInfo.Category | Should -Be 'ObjectNotFound' }
    }

    It 'a bucket that does not exist is refused once, before anything is sent to any node' {
        $before = @((Get-FakeSsmState $fake).commands).Count
        $errs = $null
        New-S3MountService -InstanceId $fake.Instances -Bucket genomics-rfe -Path /mnt/typo -User $user @create -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue |
            Should -BeNullOrEmpty
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'S3MountBucketNotFound*'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errs[0].TargetObject | Should -Be 's3://genomics-rfe/'
        @((Get-FakeSsmState $fake).commands).Count | Should -Be $before
        @((Get-FakeSsmState $fake).s3 | Where-Object { $_ -like "HEAD genomics-rfe/ auth=AWS4-HMAC-SHA256 Credential=$($fake.AccessKey)/*" }).Count | Should -Be 1
    }

    It 'a wrong mount-s3 -BucketRegion is refused; -SkipBucketCheck sends without the check' {
        { New-S3MountService -InstanceId $fake.Instances[0] -Bucket genomics-ref -Path /mnt/wrong -BucketRegion eu-west-1 -User $user @create -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'S3MountBucketRegionMismatch,*'
        $s3Before = @((Get-FakeSsmState $fake).s3).Count
        $made = New-S3MountService -InstanceId $fake.Instances[0] -Bucket genomics-rfe -Path /mnt/skipped -User $user @create -SkipBucketCheck -Confirm:$false
        $made.InstanceId | Should -Be $fake.Instances[0]
        @((Get-FakeSsmState $fake).s3).Count | Should -Be $s3Before
        Remove-S3MountService -InstanceId $fake.Instances[0] -Path /mnt/skipped @aws -Confirm:$false
    }

    It 'a normal run completes its progress records' {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$ModuleManifest'; Get-S3MountService -InstanceId $($fake.Instances -join ',') -EndpointUrl '$($fake.Endpoint)' -Region $($fake.Region) -AccessKey $($fake.AccessKey) -SecretKey '$($fake.SecretKey)'")
            $null = $ps.Invoke()
            $ps.Streams.Error | Should -BeNullOrEmpty
            $records = @($ps.Streams.Progress)
            $records.Count | Should -BeGreaterThan 0
            foreach ($activity in $records | Group-Object ActivityId) {
                $activity.Group[-1].RecordType | Should -Be 'Completed' -Because "activity $($activity.Name) ($($activity.Group[0].Activity)) must end Completed"
            }
        }
        finally { $ps.Dispose() }
    }

    It 'a credential_process profile given by -ProfileName signs the calls (the fake checks the signature in full)' {
        $dir = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-profile-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $dir
        try {
            $script = Join-Path $dir 'creds.sh'
            Set-Content -LiteralPath $script -Value "#!/bin/sh`nprintf '%s' '{""Version"": 1, ""AccessKeyId"": ""$($fake.AccessKey)"", ""SecretAccessKey"": ""$($fake.SecretKey)""}'`n" -NoNewline
            & chmod 700 $script
            $file = Join-Path $dir 'credentials'
            Set-Content -LiteralPath $file -Value "[fleet-admin]`ncredential_process = $script`nregion = $($fake.Region)`n"
            $listed = @(Get-S3MountService -InstanceId $fake.Instances -ProfileName fleet-admin -ProfileLocation $file -EndpointUrl $fake.Endpoint -ErrorAction Stop)
            $listed.Count | Should -Be 0
            (Get-FakeSsmState $fake).calls.ListCommandInvocations | Should -BeGreaterThan 0
        }
        finally { Remove-Item -LiteralPath $dir -Recurse -Force }
    }

    It 'a missing named profile is a terminating error, never a silent fallback' {
        { Get-S3MountService -InstanceId $fake.Instances -ProfileName 'no-such-profile-s3m' -EndpointUrl $fake.Endpoint -Region $fake.Region -ErrorAction Stop } |
            Should -Throw -ErrorId 'SsmProfileNotFound,*'
    }
}


Describe 'Ctrl+C during a fleet call' -Skip:(-not $IsLinux) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Shared.ps1')
        # Nodes that take a minute before they run anything: the command is in flight when the pipeline is stopped.
        $slow = Start-FakeSsm -Nodes 2 -Offline 0 -Slow 60
    }

    AfterAll {
        Stop-FakeSsm $slow
    }

    It 'StopProcessing cancels the SSM command, returns promptly and completes the progress records' {
        $stop = Invoke-FleetCallAndStop -Fake $slow -Command "Import-Module '$ModuleManifest'; Get-S3MountService -InstanceId $($slow.Instances -join ',') -EndpointUrl '$($slow.Endpoint)' -Region $($slow.Region) -AccessKey $($slow.AccessKey) -SecretKey '$($slow.SecretKey)'"
        try {
            $stop.CommandsBeforeStop | Should -Be 1 -Because 'the command must be on its way before Ctrl+C'
            $stop.StopSeconds | Should -BeLessThan 10 -Because 'Ctrl+C must not wait for the nodes'
            $stop.Completed | Should -BeTrue
            $stop.PowerShell.InvocationStateInfo.State | Should -Be 'Stopped'

            $state = Get-FakeSsmState $slow
            $state.calls.CancelCommand | Should -BeGreaterOrEqual 1
            @($state.commands | Where-Object { -not $_.cancelled }) | Should -BeNullOrEmpty
            foreach ($activity in @($stop.PowerShell.Streams.Progress) | Group-Object ActivityId) {
                $activity.Group[-1].RecordType | Should -Be 'Completed'
            }
        }
        finally { $stop.PowerShell.Dispose() }
    }
}
