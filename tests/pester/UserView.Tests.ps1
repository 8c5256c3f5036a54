#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# The cmdlets as a PowerShell user meets them (issue 11): safety of -Root and -Force, paths and pipelines the
# PowerShell way, AWS.Tools' names and shapes, views at 80 columns, help and messages, tab completion.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Shared.ps1')
    Import-Module $ModuleManifest -Force -ErrorAction Stop
    $quiet = @{ WarningAction = 'SilentlyContinue' }
    function New-Image {
        $img = New-S3MountSandbox
        $null = New-Item -ItemType Directory -Path (Join-Path $img 'etc/systemd/system') -Force
        $img
    }
    # Every file below a directory with its hash: equal snapshots mean nothing was written there.
    function Get-TreeHash([string] $Dir) {
        if (-not (Test-Path -LiteralPath $Dir)) { return '(absent)' }
        @(Get-ChildItem -LiteralPath $Dir -Recurse -Force | Sort-Object FullName | ForEach-Object { $_.FullName + ' ' + $(if (-not $_.PSIsContainer -and -not $_.LinkType) { (Get-FileHash -LiteralPath $_.FullName).Hash }) }) -join "`n"
    }
}

Describe 'Safety: nothing changes where the user did not point' -Skip:(-not $IsLinux) {
    BeforeEach {
        $img = New-Image
    }

    AfterEach {
        Remove-Item -LiteralPath $img -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'Get-S3MountService | New-S3MountService -Force keeps every option, and a field given changes only that field' {
        $made = New-S3MountService -Root $img -Bucket s3://genomics-ref/hg38/ -Path /fsx/ref -ReadOnly -AllowOther -User ec2-user -CacheDirectory /mnt/nvme/cache/ref -MaxCacheSizeMiB 10240 -BucketRegion us-east-1 -Environment 'HTTPS_PROXY=http://proxy:3128' @quiet
        $again = Get-S3MountService -Root $img | New-S3MountService -Force @quiet
        $again.Changed | Should -BeFalse -Because 'the piped object rebuilt exactly the same mount'
        "$($again.Options)" | Should -Be "$($made.Options)"
        $again.User | Should -Be 'ec2-user'
        $again.Prefix | Should -Be 'hg38/'
        $again.Environment | Should -Be @('HTTPS_PROXY=http://proxy:3128')

        $changed = Get-S3MountService -Root $img | New-S3MountService -Force -MaxThreads 32 -AllowOther:$false -AllowRoot @quiet
        $changed.Changed | Should -BeTrue
        "$($changed.Options)" | Should -Be '--region us-east-1 --read-only --allow-root --max-threads 32 --cache /mnt/nvme/cache/ref --max-cache-size 10240'
        $changed.User | Should -Be 'ec2-user'
    }

    It 'objects listed from an image act in that image, never on this machine' {
        $null = New-S3MountService -Root $img -Bucket my-bucket -Path /mnt/s3 @quiet
        $listed = Get-S3MountService -Root $img
        $listed.Root | Should -Be $img
        $listed.Node | Should -Be $img
        # -WhatIf names the place: the image, not this machine.
        $said = Invoke-FreshPwsh "Import-Module '$ModuleManifest'; Get-S3MountService -Root '$img' | Remove-S3MountService -WhatIf" | Out-String
        $said | Should -Match "What if: .* in $([regex]::Escape($img))"
        $listed | Remove-S3MountService -Confirm:$false
        @(Get-S3MountService -Root $img).Count | Should -Be 0
        Join-Path $img "etc/systemd/system/$($listed.Name)" | Should -Not -Exist
    }

    It 'fleet objects piped on go to their instance, even without SSM parameters on the command line' {
        $fleetObject = [pscustomobject]@{ InstanceId = 'i-0123456789abcdef0'; Name = 'mountpoint-s3-17a82347.service'; Path = '/mnt/s3'; Root = $null }
        $localObject = [pscustomobject]@{ InstanceId = $null; Name = 'mountpoint-s3-17a82347.service'; Path = '/mnt/s3'; Root = $null }
        # -WhatIf text goes to the host; run the same pipeline in a fresh process to read it.
        $out = Invoke-FreshPwsh "Import-Module '$ModuleManifest'; [pscustomobject]@{ InstanceId = 'i-0123456789abcdef0'; Name = 'mountpoint-s3-17a82347.service'; Path = '/mnt/s3'; Root = `$null }, [pscustomobject]@{ InstanceId = `$null; Name = 'mountpoint-s3-17a82347.service'; Path = '/mnt/s3'; Root = `$null } | Stop-S3MountService -WhatIf" | Out-String
        $out | Should -Match 'What if: .*mountpoint-s3-17a82347\.service, the service at /mnt/s3 on i-0123456789abcdef0'
        $out | Should -Match 'What if: .*mountpoint-s3-17a82347\.service, the service at /mnt/s3 on this machine'
        $out | Should -Not -Match 'InstanceId|Cannot validate'
    }

    It '-Root writes nothing outside the image through symbolic links (absolute, relative, .. in targets)' {
        $outside = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-outside-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $outside
        try {
            $null = New-Item -ItemType SymbolicLink -Path (Join-Path $img 'data') -Target $outside
            $null = New-Item -ItemType SymbolicLink -Path (Join-Path $img 'rel') -Target ('../../../../../../..' + $outside)
            # fuse.conf linked to a path that, on this machine, is outside the image.
            $hostFuse = Join-Path $outside 'fuse.conf'
            Set-Content -LiteralPath $hostFuse -Value '#user_allow_other'
            $before = Get-TreeHash $outside
            Remove-Item -LiteralPath (Join-Path $img 'etc/fuse.conf')
            $null = New-Item -ItemType SymbolicLink -Path (Join-Path $img 'etc/fuse.conf') -Target $hostFuse
            $null = New-Item -ItemType Directory -Path (Join-Path $img $outside.TrimStart('/')) -Force
            $a = New-S3MountService -Root $img -Bucket b-one -Path /data/s3 -AllowOther -User ec2-user @quiet
            $b = New-S3MountService -Root $img -Bucket b-two -Path /rel/s3 -CacheDirectory /data/cache @quiet
            $a.Changed | Should -BeTrue
            $b.Changed | Should -BeTrue
            Get-TreeHash $outside | Should -Be $before -Because 'a link out of the image is resolved inside it, as a chroot would'
            # Inside: /data and /rel both lead to <image>$outside, and so does the fuse.conf link.
            Join-Path $img ($outside.TrimStart('/') + '/s3') | Should -Exist
            Join-Path $img ($outside.TrimStart('/') + '/cache') | Should -Exist
            Get-Content -LiteralPath (Join-Path $img ($outside.TrimStart('/') + '/fuse.conf')) | Should -Contain 'user_allow_other'
            Get-Content -LiteralPath $hostFuse | Should -Be '#user_allow_other'
        }
        finally {
            Remove-Item -LiteralPath $outside -Recurse -Force -ErrorAction SilentlyContinue
        }
    }

    It 'a mount path <Path> that hides data is refused with <ErrorId>, and nothing is written' -ForEach @(
        @{ Path = '/tmp'; ErrorId = 'S3MountPathReserved' }
        @{ Path = '/home'; ErrorId = 'S3MountPathReserved' }
        @{ Path = '/home/ec2-user'; ErrorId = 'S3MountPathReserved' }
        @{ Path = '/root'; ErrorId = 'S3MountPathReserved' }
        @{ Path = '/mnt'; ErrorId = 'S3MountPathReserved' }
        @{ Path = '/var/lib/data'; ErrorId = 'S3MountPathInvalid' }
    ) {
        $before = Get-TreeHash $img
        { New-S3MountService -Root $img -Bucket my-bucket -Path $Path -ErrorAction Stop @quiet } | Should -Throw -ErrorId "$ErrorId,*"
        Get-TreeHash $img | Should -Be $before
    }

    It 'a mount inside another S3 mount, or around one, is refused with S3MountPathNested' {
        $null = New-S3MountService -Root $img -Bucket bucket-a -Path /mnt/a @quiet
        $before = Get-TreeHash $img
        { New-S3MountService -Root $img -Bucket bucket-b -Path /mnt/a/sub -ErrorAction Stop @quiet } | Should -Throw -ErrorId 'S3MountPathNested,*'
        { New-S3MountService -Root $img -Bucket bucket-c -Path /mnt/a/b/c -ErrorAction Stop @quiet } | Should -Throw -ErrorId 'S3MountPathNested,*'
        $null = Remove-Item -LiteralPath $img -Recurse -Force
        $img = New-Image
        $null = New-S3MountService -Root $img -Bucket bucket-a -Path /data/x/y @quiet
        { New-S3MountService -Root $img -Bucket bucket-b -Path /data/x -ErrorAction Stop @quiet } | Should -Throw -ErrorId 'S3MountPathNested,*'
        # A sibling is fine.
        (New-S3MountService -Root $img -Bucket bucket-b -Path /data/x2 @quiet).Changed | Should -BeTrue
    }

    It 'Remove -Force only skips the prompt; detaching a busy mount is -LazyUnmount' {
        $p = (Get-Command Remove-S3MountService).Parameters
        $p.Keys | Should -Contain 'LazyUnmount'
        (Get-Help Remove-S3MountService -Parameter Force).Description.Text | Should -Not -Match 'unmount'
        (Get-Help Remove-S3MountService -Parameter LazyUnmount).Description.Text | Should -Match 'umount -l'
        $r = (Get-Command Repair-S3MountService).Parameters
        $r.Keys | Should -Contain 'IncludeHung'
        (Get-Help Repair-S3MountService -Parameter Force).Description.Text | Should -Not -Match 'Hung'
    }

    It 'a -Root that does not exist is an error for <Command>, and nothing is created' -ForEach @(
        @{ Command = 'New-S3MountService'; Extra = @{ Bucket = 'my-bucket'; Path = '/mnt/s3' } }
        @{ Command = 'Get-S3MountService'; Extra = @{} }
        @{ Command = 'Remove-S3MountService'; Extra = @{ Path = '/mnt/s3'; Confirm = $false } }
        @{ Command = 'Test-S3MountService'; Extra = @{} }
        @{ Command = 'Enable-S3MountService'; Extra = @{ Path = '/mnt/s3' } }
        @{ Command = 'Disable-S3MountService'; Extra = @{ Path = '/mnt/s3' } }
        @{ Command = 'Get-MountpointS3'; Extra = @{} }
        @{ Command = 'Install-MountpointS3'; Extra = @{ Version = '1.23.0' } }
    ) {
        $missing = Join-Path $img 'no/such/image'
        { & $Command -Root $missing @Extra -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountRootNotFound,*'
        Join-Path $img 'no' | Should -Not -Exist
    }
}

Describe 'Paths and pipelines the PowerShell way' -Skip:(-not $IsLinux) {
    BeforeAll {
        $img = New-Image
    }

    AfterAll {
        Remove-Item -LiteralPath $img -Recurse -Force -ErrorAction SilentlyContinue
    }

    It '-Root resolves like New-Item: relative to the current location, ~, and PSDrives' {
        Push-Location (Split-Path $img)
        try {
            (New-S3MountService -Root (Split-Path -Leaf $img) -Bucket rel-bucket -Path /mnt/rel @quiet).Root | Should -Be $img
        }
        finally { Pop-Location }
        $null = New-PSDrive -Name S3MImg -PSProvider FileSystem -Root $img
        try {
            (Get-S3MountService -Root 'S3MImg:\' -Path /mnt/rel).Root | Should -Be $img
        }
        finally { Remove-PSDrive S3MImg }
        $fs = Get-PSProvider FileSystem
        $oldHome = $fs.Home
        try {
            $fs.Home = Split-Path $img
            (Get-S3MountService -Root ('~/' + (Split-Path -Leaf $img)) -Path /mnt/rel).Root | Should -Be $img
        }
        finally { $fs.Home = $oldHome }
    }

    It '-PackagePath is resolved here locally, but must be absolute on a fleet, and the error says which is which' {
        Push-Location ([System.IO.Path]::GetTempPath())
        try {
            { Install-MountpointS3 -InstanceId i-0123456789abcdef0 -Region us-east-1 -PackagePath ./mount-s3.deb -WhatIf -ErrorAction Stop } |
                Should -Throw -ExpectedMessage '*path on the nodes*absolute*'
        }
        finally { Pop-Location }
        $out = Invoke-FreshPwsh "Import-Module '$ModuleManifest'; Set-Location '$([System.IO.Path]::GetTempPath())'; Install-MountpointS3 -PackagePath ./mount-s3.deb -SignaturePath ~/x.asc -WhatIf" | Out-String
        $out | Should -Match ([regex]::Escape((Join-Path ([System.IO.Path]::GetTempPath()) 'mount-s3.deb')))
    }

    It 'a bad piped object is an error for that object only; the others are created' {
        $mounts = @(
            [pscustomobject]@{ Bucket = 'good-one'; Path = '/mnt/good1'; ReadOnly = $true }
            [pscustomobject]@{ Bucket = 'Bad_Bucket'; Path = '/mnt/bad' }
            [pscustomobject]@{ Bucket = 'good-two'; Path = '/mnt/good2'; AllowDelete = $true }
        )
        $made = $mounts | New-S3MountService -Root $img -ErrorVariable errs -ErrorAction SilentlyContinue @quiet
        @($made.Bucket) | Should -Be @('good-one', 'good-two')
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'S3MountBucketInvalid,*'
        ($made | Where-Object Bucket -EQ 'good-two').Options.AllowDelete | Should -BeTrue
    }

    It 'Get-S3MountService takes wildcards on -Name and -Path, and a piped string or Get-Item result is a path' {
        @(Get-S3MountService -Root $img -Path '/mnt/good*').Count | Should -Be 2
        @(Get-S3MountService -Root $img -Name 'mountpoint-s3-*').Count | Should -BeGreaterOrEqual 3
        @(Get-S3MountService -Root $img -Path '/MNT/GOOD1' -ErrorAction SilentlyContinue -ErrorVariable notFound).Count | Should -Be 0 -Because 'exact paths are exact'
        $notFound[0].FullyQualifiedErrorId | Should -BeLike 'S3MountServiceNotFound,*'
        @('/mnt/good2' | Get-S3MountService -Root $img).Bucket | Should -Be 'good-two'
        $null = New-Item -ItemType Directory -Path /tmp/s3mount-pester-item/mnt/good1 -Force
        try {
            # A Get-Item result binds its FullName to -Path (its leaf Name is not taken for a service name).
            $item = Get-Item /tmp/s3mount-pester-item/mnt/good1
            { $item | Get-S3MountService -Root $img -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountServiceNotFound,*'
        }
        finally { Remove-Item -Recurse -Force /tmp/s3mount-pester-item }
    }

    It 'Local, -Root, -InstanceId and -Target are parameter sets: conflicts fail at binding, and the syntax shows the modes' {
        $syntax = Get-Command Get-S3MountService -Syntax
        ($syntax -split "`n" | Where-Object { $_ -match '^Get-S3MountService' }).Count | Should -Be 4
        $syntax | Should -Match '-Root <string>'
        $syntax | Should -Match '-Target <SsmTarget\[\]>'
        { Get-S3MountService -Root $img -InstanceId i-0123456789abcdef0 -ErrorAction Stop } | Should -Throw -ErrorId 'AmbiguousParameterSet,*'
        { Get-S3MountService -Root $img -Region us-east-1 -ErrorAction Stop } | Should -Throw -ErrorId 'AmbiguousParameterSet,*'
        { Get-S3MountService -Target 'tag:Role=x' -InstanceId i-0123456789abcdef0 -ErrorAction Stop } | Should -Throw -ErrorId 'AmbiguousParameterSet,*'
        { Start-S3MountService -Root $img -Path /mnt/good1 -ErrorAction Stop } | Should -Throw -ErrorId 'NamedParameterNotFound,*'
    }

    It 'instance ids are checked here with S3MountInstanceIdInvalid, and nothing is sent for them' {
        Get-S3MountService -InstanceId 'i-123', 'web-01', 'mi-0123' -Region us-east-1 -EndpointUrl http://127.0.0.1:9 -AccessKey a -SecretKey b -ErrorVariable errs -ErrorAction SilentlyContinue
        @($errs | ForEach-Object { ($_.FullyQualifiedErrorId -split ',')[0] }) | Should -Be @('S3MountInstanceIdInvalid', 'S3MountInstanceIdInvalid', 'S3MountInstanceIdInvalid')
        @($errs.TargetObject) | Should -Be @('i-123', 'web-01', 'mi-0123')
    }

    It '-Root works for Test, Enable, Disable and Get-MountpointS3' {
        Test-S3MountService -Root $img -Path /mnt/good1 | ForEach-Object { $_.Health | Should -Be 'NotMounted'; $_.Root | Should -Be $img }
        Disable-S3MountService -Root $img -Path /mnt/good1
        (Get-S3MountService -Root $img -Path /mnt/good1).Enabled | Should -BeFalse
        Join-Path $img "etc/systemd/system/remote-fs.target.wants/$((Get-S3MountService -Root $img -Path /mnt/good1).Name)" | Should -Not -Exist
        Get-S3MountService -Root $img -Path /mnt/good1 | Enable-S3MountService
        (Get-S3MountService -Root $img -Path /mnt/good1).Enabled | Should -BeTrue
        $report = Get-MountpointS3 -Root $img
        $report.Root | Should -Be $img
        $report.IsInstalled | Should -BeFalse
    }
}

Describe 'What AWS.Tools emits pipes in' -Skip:(-not $IsLinux) {
    BeforeAll {
        $fake = Start-FakeSsm -Nodes 2 -Offline 0
    }

    AfterAll {
        Stop-FakeSsm $fake
    }

    It 'real EC2 Reservation and Instance objects and SSM InstanceInformation objects from another SDK copy, and AWS.Tools targets' {
        $sdk = Join-Path $RepoRoot '.tools/awssdk/4.0.102.14'
        $ids = "'" + ($fake.Instances -join "','") + "'"
        $script = @"
`$ErrorActionPreference = 'Stop'
`$core = [System.Reflection.Assembly]::LoadFrom('$sdk/AWSSDK.Core.dll')
`$ec2 = [System.Reflection.Assembly]::LoadFrom('$sdk/AWSSDK.EC2.dll')
`$ssm = [System.Reflection.Assembly]::LoadFrom('$sdk/AWSSDK.SimpleSystemsManagement.dll')
Import-Module '$ModuleManifest'
`$aws = @{ EndpointUrl = '$($fake.Endpoint)'; Region = '$($fake.Region)'; AccessKey = '$($fake.AccessKey)'; SecretKey = '$($fake.SecretKey)' }
`$reservation = [Activator]::CreateInstance(`$ec2.GetType('Amazon.EC2.Model.Reservation'))
`$list = [Activator]::CreateInstance([System.Collections.Generic.List``1].MakeGenericType(`$ec2.GetType('Amazon.EC2.Model.Instance')))
foreach (`$id in @($ids)) { `$i = [Activator]::CreateInstance(`$ec2.GetType('Amazon.EC2.Model.Instance')); `$i.InstanceId = `$id; `$list.Add(`$i) }
`$reservation.Instances = `$list
'reservation: ' + (@(`$reservation | Get-S3MountService @aws).Count) + ' ' + `$reservation.GetType().Assembly.GetName().Name
'instances: ' + (@(`$reservation.Instances | Test-S3MountService @aws).Count)
`$info = foreach (`$id in @($ids)) { `$x = [Activator]::CreateInstance(`$ssm.GetType('Amazon.SimpleSystemsManagement.Model.InstanceInformation')); `$x.InstanceId = `$id; `$x.PingStatus = 'Online'; `$x }
'information: ' + (@(`$info | Get-MountpointS3 @aws -ErrorAction SilentlyContinue -ErrorVariable e).Count + @(`$e).Count)
`$target = [Activator]::CreateInstance(`$ssm.GetType('Amazon.SimpleSystemsManagement.Model.Target')); `$target.Key = 'InstanceIds'; `$target.Values = [System.Collections.Generic.List[string]]@($ids)
'target object: ' + (@(Get-S3MountService -Target `$target @aws).Count)
'target hashtable: ' + (@(Get-S3MountService -Target @{ Key = 'InstanceIds'; Values = @($ids) } @aws).Count)
"@
        # Mounts to list on both nodes.
        $null = New-S3MountService -InstanceId $fake.Instances -Bucket aws-tools -Path /mnt/aws-tools -EndpointUrl $fake.Endpoint -Region $fake.Region -AccessKey $fake.AccessKey -SecretKey $fake.SecretKey -SkipBucketCheck -Confirm:$false @quiet
        $out = Invoke-FreshPwsh $script | Out-String
        $out | Should -Match 'reservation: 2 AWSSDK\.EC2'
        $out | Should -Match 'instances: 2'
        $out | Should -Match 'information: 2'
        $out | Should -Match 'target object: 2'
        $out | Should -Match 'target hashtable: 2'
    }

    It 'fleet results carry the SSM CommandId, and -Comment reaches SSM' {
        $listed = @(Get-S3MountService -InstanceId $fake.Instances -EndpointUrl $fake.Endpoint -Region $fake.Region -AccessKey $fake.AccessKey -SecretKey $fake.SecretKey -Comment 'pester: list for the audit')
        $listed.Count | Should -Be 2
        $state = Get-FakeSsmState $fake
        $command = @($state.commands | Where-Object comment -EQ 'pester: list for the audit')
        $command.Count | Should -Be 1
        $listed | ForEach-Object { $_.CommandId | Should -Be $command[0].commandId }
    }

    It '-CloudWatchLogGroupName and -OutputS3Region reach SendCommand as SSM names them; a region without a bucket is refused' {
        $ssm = @{ EndpointUrl = $fake.Endpoint; Region = $fake.Region; AccessKey = $fake.AccessKey; SecretKey = $fake.SecretKey }
        $listed = @(Get-S3MountService -InstanceId $fake.Instances[0] @ssm -Comment 'pester: cloudwatch' -CloudWatchLogGroupName '/s3mount/audit' -OutputS3BucketName 'ssm-output-bucket' -OutputS3Region 'eu-west-1' -ErrorAction SilentlyContinue)
        $sent = @((Get-FakeSsmState $fake).sent | Where-Object comment -EQ 'pester: cloudwatch')
        $sent.Count | Should -Be 1
        $sent[0].cloudWatchOutputConfig.CloudWatchOutputEnabled | Should -BeTrue
        $sent[0].cloudWatchOutputConfig.CloudWatchLogGroupName | Should -Be '/s3mount/audit'
        $sent[0].outputS3BucketName | Should -Be 'ssm-output-bucket'
        $sent[0].outputS3Region | Should -Be 'eu-west-1'
        $before = @((Get-FakeSsmState $fake).sent).Count
        { Get-S3MountService -InstanceId $fake.Instances[0] @ssm -OutputS3Region 'eu-west-1' -ErrorAction Stop } | Should -Throw -ExpectedMessage '*goes with -OutputS3BucketName*'
        @((Get-FakeSsmState $fake).sent).Count | Should -Be $before
    }
}

Describe 'Names a Send-SSMCommand user expects' {
    It '-Region, -EndpointUrl and -ProfileName mean SSM''s on every node cmdlet; mount-s3''s own have other names on New-S3MountService' {
        foreach ($c in Get-Command -Module S3Mount -CommandType Cmdlet | Where-Object { $_.Parameters.ContainsKey('InstanceId') }) {
            foreach ($p in 'Region', 'EndpointUrl', 'ProfileName') {
                $c.Parameters[$p].ParameterSets.Keys | Sort-Object | Should -Be @('InstanceId', 'Target') -Because "$($c.Name) -$p is SSM's"
            }
        }
        $new = (Get-Command New-S3MountService).Parameters
        $new.Keys | Should -Contain 'BucketRegion'
        $new.Keys | Should -Contain 'S3EndpointUrl'
        $new.Keys | Should -Contain 'S3Profile'
        $new['ProfileName'].Aliases | Should -Contain 'Profile'
    }

    It 'one splat works for Get and New with the same meaning, and -Profile is not ambiguous' -Skip:(-not $IsLinux) {
        $said = Invoke-FreshPwsh "Import-Module '$ModuleManifest'; `$ssm = @{ Region = 'us-east-1'; EndpointUrl = 'http://127.0.0.1:9'; AccessKey = 'AKIAEXAMPLE'; SecretKey = 'x'; InstanceId = 'i-0123456789abcdef0' }; New-S3MountService @ssm -Bucket my-bucket -Path /mnt/s3 -BucketRegion eu-west-1 -WhatIf" | Out-String
        $said | Should -Match 'What if: .*mountpoint-s3-17a82347\.service \(s3://my-bucket/ at /mnt/s3\) on i-0123456789abcdef0'
        $said | Should -Not -Match 'Exception|rror'
        { Get-S3MountService -InstanceId i-0123456789abcdef0 -Profile no-such-profile-s3m -ErrorAction Stop } | Should -Throw -ErrorId 'SsmProfileNotFound,*'
    }
}

Describe 'Reading the output' -Skip:(-not $IsLinux) {
    BeforeAll {
        $img = New-Image
        $null = New-S3MountService -Root $img -Bucket genomics-ref -Path /fsx/ref -ReadOnly -AllowOther -User ec2-user -CacheDirectory /mnt/nvme/cache/ref @quiet
        $null = New-S3MountService -Root $img -Bucket s3://results/run-42/ -Path /mnt/results -AllowDelete @quiet
        Copy-Item -LiteralPath (Join-Path $RepoRoot 'tests/S3Mount.Engine.Tests/Fixtures/recipe/default-options.service') -Destination (Join-Path $img 'etc/systemd/system/mountpoint-s3-17a82347.service')
    }

    AfterAll {
        Remove-Item -LiteralPath $img -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'default tables are readable at 80 columns: where, path, bucket and health, none of it cut' {
        $services = Get-S3MountService -Root $img @quiet | ForEach-Object { $_.Root = $null; $_.InstanceId = 'mi-0123456789abcdef0'; $_ }
        $table = $services | Format-Table | Out-String -Width 80
        foreach ($v in 'mi-0123456789abcdef0', '/fsx/ref', 's3://genomics-ref/', '/mnt/results', 's3://results/run-42/', 'NotMounted') {
            $table | Should -Match ([regex]::Escape($v))
        }
        $table | Should -Not -Match '…'
        $table | Should -Not -Match 'mountpoint-s3-' -Because 'the unit name is in the list view'
        ($table -split "`n" | Measure-Object -Property Length -Maximum).Maximum | Should -BeLessOrEqual 80

        $health = Test-S3MountService -Root $img | ForEach-Object { $_.Root = $null; $_.InstanceId = 'i-0123456789abcdef0'; $_ } | Format-Table | Out-String -Width 80
        $health | Should -Match 'i-0123456789abcdef0 +/fsx/ref +NotMounted'
        $repair = [S3Mount.S3MountRepair]@{ InstanceId = 'mi-0123456789abcdef0'; Name = 'mountpoint-s3-17a82347.service'; Path = '/fsx/ref'; Before = 'Stale'; After = 'Healthy'; Action = 'repair' }
        ($repair | Format-Table | Out-String -Width 80) | Should -Match 'mi-0123456789abcdef0 +/fsx/ref +Stale +Healthy +repair'
        $install = [S3Mount.MountpointInstallation]@{ InstanceId = 'mi-0123456789abcdef0'; OsId = 'amzn'; OsVersion = '2023'; Architecture = 'x86_64'; InstalledVersion = [S3Mount.Engine.Model.MountpointVersion]::Parse('1.21.0+1.amzn2023'); Changed = $true }
        ($install | Format-Table | Out-String -Width 80) | Should -Match 'mi-0123456789abcdef0 +amzn 2023 +x86_64 +1\.21\.0\+1\.amzn2023 +True'
    }

    It 'Format-List shows the options as mount-s3 takes them, and no property repeats the whole object' {
        $s = Get-S3MountService -Root $img -Path /fsx/ref
        $list = $s | Format-List | Out-String -Width 200
        $list | Should -Match 'Options\s+: --read-only --allow-other --cache /mnt/nvme/cache/ref'
        $list | Should -Match 'Name\s+: mountpoint-s3-'
        $list | Should -Not -Match 'MountSpec|Spec\s+:'
        $s.PSObject.Properties.Name | Should -Not -Contain 'Spec'
        "$($s.Options)" | Should -Be '--read-only --allow-other --cache /mnt/nvme/cache/ref'
    }

    It 'a recipe unit''s warnings come once on the warning stream and are on the object' {
        $recipe = Get-S3MountService -Root $img -Path /mnt/s3 -WarningVariable warned -WarningAction SilentlyContinue
        $recipe.Origin | Should -Be 'Recipe'
        $recipe.Warnings.Count | Should -BeGreaterThan 0
        @($warned).Count | Should -Be $recipe.Warnings.Count
        foreach ($w in $recipe.Warnings) { @($warned | Where-Object { "$_" -like "*$w" }).Count | Should -Be 1 }
    }

    It 'versions compare and sort as versions' {
        $v = [S3Mount.Engine.Model.MountpointVersion]
        ($v::Parse('1.3.0') -lt '1.21.0') | Should -BeTrue
        ($v::Parse('1.21.0+1.amzn2023') -ge '1.21.0') | Should -BeTrue
        @('1.21.0', '1.3.0', '1.23.0', '1.9.1' | ForEach-Object { $v::Parse($_) } | Sort-Object | ForEach-Object { "$_" }) | Should -Be @('1.3.0', '1.9.1', '1.21.0', '1.23.0')
        $installs = '1.21.0', '1.3.0' | ForEach-Object { [S3Mount.MountpointInstallation]@{ InstanceId = 'i-0123456789abcdef0'; InstalledVersion = $v::Parse($_) } }
        @($installs | Where-Object InstalledVersion -LT '1.23.0').Count | Should -Be 2
        ($installs | Sort-Object InstalledVersion)[0].InstalledVersion.ToString() | Should -Be '1.3.0'
    }
}

Describe 'Messages and values' -Skip:(-not $IsLinux) {
    BeforeAll {
        $img = New-Image
    }

    AfterAll {
        Remove-Item -LiteralPath $img -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'a case-insensitive ValidateSet value that binds is accepted and written canonically' {
        $s = New-S3MountService -Root $img -Bucket kms-bucket -Path /mnt/kms -Sse aes256 -UploadChecksums CRC32C -BucketType General-Purpose @quiet
        "$($s.Options)" | Should -Be '--bucket-type general-purpose --sse AES256 --upload-checksums crc32c'
    }

    It 'errors name parameters and values that exist, never raw patterns: <Why>' -ForEach @(
        @{ Why = 'a KMS key without KMS'; Splat = @{ SseKmsKeyId = 'arn:aws:kms:us-east-1:111122223333:key/abc' }; Expect = '-Sse aws:kms' }
        @{ Why = 'a mode out of range'; Splat = @{ DirMode = '999' }; Expect = '--dir-mode (-DirMode)' }
        @{ Why = 'a modelled option as an extra argument'; Splat = @{ ExtraArgument = '--foreground' }; Expect = '-ExtraArgument' }
        @{ Why = 'an extra argument that is an option'; Splat = @{ ExtraArgument = '--read-only' }; Expect = 'use -ReadOnly' }
    ) {
        $e = { New-S3MountService -Root $img -Bucket msg-bucket -Path /mnt/msg @Splat -ErrorAction Stop } | Should -Throw -PassThru
        $e.Exception.Message | Should -BeLike "*$Expect*"
        $e.Exception.Message | Should -Not -Match '(?-i)(?<![-\w])-Foreground\b|AwsKms|\^\[|\[0-7\]'
    }
}

Describe 'Tab completion' -Skip:(-not $IsLinux) {
    BeforeAll {
        $img = New-Image
        $null = New-S3MountService -Root $img -Bucket complete-me -Path '/mnt/complete me' @quiet
        Add-Content -LiteralPath (Join-Path $img 'etc/passwd') -Value "`nhpc-user:x:2001:2001::/home/hpc-user:/bin/sh"
        Add-Content -LiteralPath (Join-Path $img 'etc/group') -Value "`nhpc-group:x:2001:"
        function Complete([string] $Line) { @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches.CompletionText) }
    }

    AfterAll {
        Remove-Item -LiteralPath $img -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'honours -Root for service names and paths' {
        Complete "Get-S3MountService -Root '$img' -Path /mnt/comp" | Should -Be @("'/mnt/complete me'")
        Complete "Remove-S3MountService -Root '$img' -Name mountpoint-s3-" | Should -Be @((Get-S3MountService -Root $img).Name)
    }

    It 'completes users and groups from the image, regions, versions and -MaxErrors forms' {
        Complete "New-S3MountService -Root '$img' -Bucket b -Path /mnt/x -User hpc" | Should -Be @('hpc-user')
        Complete "New-S3MountService -Root '$img' -Bucket b -Path /mnt/x -Group hpc" | Should -Be @('hpc-group')
        Complete 'New-S3MountService -BucketRegion eu-west-' | Should -Contain 'eu-west-1'
        Complete 'Get-S3MountService -InstanceId i-0123456789abcdef0 -Region us-gov-' | Should -Contain 'us-gov-west-1'
        Complete 'Install-MountpointS3 -Version 1.2' | Should -Contain '1.23.0'
        Complete 'Install-MountpointS3 -Version ' | Select-Object -First 1 | Should -Be 'latest'
        Complete 'Get-S3MountService -InstanceId i-0123456789abcdef0 -MaxErrors ' | Should -Contain '5%'
    }
}
