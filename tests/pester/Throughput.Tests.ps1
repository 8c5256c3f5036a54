#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

BeforeAll {
    . (Join-Path $PSScriptRoot 'Shared.ps1')
    Import-Module $ModuleManifest -Force -ErrorAction Stop

    function New-Result {
        # A result as the cmdlet builds it from a node's measurement.
        param([string] $Node, [string] $Path = '/mnt/results', $Write, $Read, [double] $FirstByte = 42, [int] $Errors = 0, [int] $Files = 8, [long] $FileSize = 64MB, [int] $Parallelism = 4)
        $r = [S3Mount.S3MountThroughput]::new()
        $r.InstanceId = $Node
        $r.Path = $Path
        $r.Mode = 'ReadWrite'
        $r.Files = $Files
        $r.FileSize = $FileSize
        $r.Parallelism = $Parallelism
        $r.WriteMBps = $Write
        $r.ReadMBps = $Read
        $r.FirstByteMs = $FirstByte
        $r.ErrorCount = $Errors
        $r.Score = if ($null -ne $Write -and $null -ne $Read) { [math]::Min($Write, $Read) } elseif ($null -ne $Read) { $Read } else { $Write }
        $r
    }

    function Get-Ranked {
        # The cmdlet's own ordering and bars (S3MountThroughput.Ranked), applied to the given results.
        param([object[]] $Results)
        $method = [S3Mount.S3MountThroughput].GetMethod('Ranked', [System.Reflection.BindingFlags]'NonPublic, Static')
        $list = [System.Collections.Generic.List[S3Mount.S3MountThroughput]]::new()
        $Results | ForEach-Object { $list.Add($_) }
        @($method.Invoke($null, @(, $list)))
    }
}

AfterAll {
    Remove-Module S3Mount -ErrorAction SilentlyContinue
}

Describe 'Measure-S3MountThroughput' {
    It 'takes the mounts by -Name and -Path from the pipeline and inherits the node and AWS parameters' {
        $p = (Get-Command Measure-S3MountThroughput).Parameters
        foreach ($name in 'Name', 'Path', 'InstanceId') {
            $p[$name].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] }).ValueFromPipelineByPropertyName | Should -Contain $true
        }
        $p['FileSize'].ParameterType | Should -Be ([long])
        $p['Parallelism'].Aliases | Should -Contain 'ThreadCount'
        foreach ($name in 'FileCount', 'TimeLimitSeconds', 'ReadPrefix', 'Target', 'Region', 'ProfileName', 'MaxConcurrency', 'TimeoutSeconds', 'ExecutionTimeoutSeconds', 'WhatIf', 'Confirm') {
            $p.ContainsKey($name) | Should -BeTrue -Because "-$name"
        }
    }

    It 'refuses values out of range and a prefix outside the mount before anything runs' {
        { Measure-S3MountThroughput -Path /mnt/s3 -FileSize 100 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Measure-S3MountThroughput -Path /mnt/s3 -Parallelism 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        # A bad record is an error for that record only (as on every S3Mount cmdlet); nothing runs for it.
        Measure-S3MountThroughput -Path /mnt/s3 -ReadPrefix ../etc -ErrorVariable e1 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e1[0].FullyQualifiedErrorId | Should -BeLike 'S3MountOptionInvalid*'
        Measure-S3MountThroughput -ErrorVariable e2 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e2[0].FullyQualifiedErrorId | Should -BeLike 'S3MountNameInvalid*'
    }

    It 'asks before it writes, and -WhatIf writes nothing and says what it would do' {
        $out = Invoke-FreshPwsh "Import-Module '$ModuleManifest'; Measure-S3MountThroughput -Path /mnt/results -FileCount 16 -FileSize 256MB -WhatIf; 'done'"
        ($out -join "`n") | Should -Match 'What if: Performing the operation "Write 16 test files of 256 MiB in a directory of their own, read them back and delete them" on target "the service at /mnt/results on this machine"'
        $out[-1] | Should -Be 'done'
        @($out | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }).Count | Should -Be 0
    }

    It 'puts the slowest node first, per path, with a bar against the fastest' {
        $ranked = Get-Ranked @(
            New-Result -Node i-0000000000000000a -Write 400 -Read 900
            New-Result -Node i-0000000000000000b -Write 100 -Read 800
            New-Result -Node i-0000000000000000c -Write 410 -Read 380
            New-Result -Node i-0000000000000000d -Path /mnt/other -Write 50 -Read 60
        )
        $ranked.InstanceId | Should -Be 'i-0000000000000000d', 'i-0000000000000000b', 'i-0000000000000000c', 'i-0000000000000000a'
        $ranked[1].Relative | Should -Be 0.25
        $ranked[1].Bar | Should -Be ([string]::new([char]0x2588, 5) + [string]::new([char]0x2591, 15))
        $ranked[3].Bar | Should -Be ([string]::new([char]0x2588, 20))
        $ranked[0].Bar | Should -Be ([string]::new([char]0x2588, 20))
    }

    It 'shows the spread of a fleet at a glance at 80 columns' {
        $ranked = Get-Ranked @(
            New-Result -Node i-0123456789abcdef0 -Write 4230.5 -Read 4850.1
            New-Result -Node i-0123456789abcdef1 -Write 1210.3 -Read 4702.9 -FirstByte 180
            New-Result -Node i-0123456789abcdef2 -Write $null -Read 3980.0 -Errors 2
        )
        $lines = ($ranked | Out-String -Width 80) -split "`n"
        $lines | Where-Object { $_.TrimEnd().Length -gt 80 } | Should -BeNullOrEmpty
        $text = $lines -join "`n"
        $text | Should -Match 'Path: /mnt/results'
        $text | Should -Match 'Node\s+Write MB/s Read MB/s 1st B ms vs fastest\s+Err'
        $rows = $lines | Where-Object { $_ -match '^i-0123456789abcdef' }
        $rows[0] | Should -Match '^i-0123456789abcdef1\s+1,210\.3\s+4,702\.9\s+180 ██████░+\s+0$'
        $rows[1] | Should -Match '^i-0123456789abcdef2\s+-\s+3,980\.0\s+42 █+░*\s+2$'
        $rows[2] | Should -Match '^i-0123456789abcdef0\s+4,230\.5\s+4,850\.1\s+42 ████████████████████\s+0$'
    }

    It 'goes to a fleet as one command for all nodes with an agreed start, and a node refusal is that node''s error' -Skip:(-not $IsLinux) {
        $fake = Start-FakeSsm -Nodes 3 -Offline 1
        try {
            $aws = @{ EndpointUrl = $fake.Endpoint; Region = $fake.Region; AccessKey = $fake.AccessKey; SecretKey = $fake.SecretKey }
            $before = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
            $nodes = @($fake.Instances + $fake.Offline) | ForEach-Object { [pscustomobject]@{ InstanceId = $_; Path = '/mnt/results' } }
            $out = $nodes | Measure-S3MountThroughput -FileCount 2 -FileSize 1MB @aws -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            # The sandbox nodes run the script against an image root, which the check refuses: one error per node.
            @($errs | Where-Object { $_.FullyQualifiedErrorId -like 'S3MountThroughputNoImage*' }).Count | Should -Be 3
            @($errs | Where-Object { $_.FullyQualifiedErrorId -like 'SsmAgentOffline*' }).Count | Should -Be 1
            $state = Get-FakeSsmState $fake
            $commands = @($state.commands | Where-Object comment -eq 'S3Mount measure')
            $commands.Count | Should -Be 1
            @($commands[0].instanceIds).Count | Should -Be 3
            $startAt = [long]([regex]::Match($commands[0].script, "START_AT='(\d+)'").Groups[1].Value)
            $startAt | Should -BeGreaterOrEqual ($before + 5)
            $startAt | Should -BeLessOrEqual ([DateTimeOffset]::UtcNow.ToUnixTimeSeconds() + 10)
        }
        finally {
            Stop-FakeSsm $fake
        }
    }

    It 'prints the README''s table from the same figures, verbatim' {
        . (Join-Path $PSScriptRoot 'ReadmeBlocks.ps1')
        $block = @(Get-ReadmeBlock | Where-Object { $_.Kind -eq 'throughput' -and $_.Lang -eq '' })
        $block.Count | Should -Be 1
        $shape = @{ Path = '/fsx/scratch'; Files = 32; FileSize = 1GB; Parallelism = 16 }
        $ranked = Get-Ranked @(
            New-Result -Node i-0123456789abcdef0 -Write 4230.5 -Read 4850.1 @shape
            New-Result -Node i-0123456789abcdef1 -Write 1210.3 -Read 4702.9 -FirstByte 180 @shape
            New-Result -Node i-0123456789abcdef2 -Write $null -Read 3980.0 -Errors 2 @shape
        )
        $printed = (($ranked | Out-String -Width 80) -split "`n" | ForEach-Object TrimEnd | Where-Object { $_ }) -join "`n"
        $readme = ($block[0].Code -split "`n" | ForEach-Object TrimEnd | Where-Object { $_ }) -join "`n"
        $printed | Should -Be $readme
    }

    It 'runs the README''s commands as written (with -WhatIf, against sandbox nodes behind the fake SSM)' -Skip:(-not $IsLinux) {
        . (Join-Path $PSScriptRoot 'ReadmeBlocks.ps1')
        $block = @(Get-ReadmeBlock | Where-Object { $_.Kind -eq 'throughput' -and $_.Lang -eq 'powershell' })
        $block.Count | Should -Be 1
        $fake = Start-FakeSsm -Nodes 2 -Offline 0
        try {
            $aws = @{ EndpointUrl = $fake.Endpoint; Region = $fake.Region; AccessKey = $fake.AccessKey; SecretKey = $fake.SecretKey }
            $ids = $fake.Instances
            # The nodes' mount (the set-up, not the README: no S3 to check the bucket against).
            $null = New-S3MountService -InstanceId $ids -Bucket scratch -Path /fsx/scratch -AllowDelete -User ([System.Environment]::UserName) @aws -SkipBucketCheck -Confirm:$false -ErrorAction Stop
            $PSDefaultParameterValues['Measure-S3MountThroughput:WhatIf'] = $true
            $errs = @()
            $out = foreach ($line in $block[0].Code -split "`n" | Where-Object { $_.Trim() }) {
                # The fleet lines reach the fake SSM through the defaults an admin would set; the local one needs none.
                $fleet = $line -match '\$ids'
                foreach ($k in $aws.Keys) { if ($fleet) { $PSDefaultParameterValues["*-S3Mount*:$k"] = $aws[$k] } else { $PSDefaultParameterValues.Remove("*-S3Mount*:$k") } }
                $o = @(. ([scriptblock]::Create($line)) 2>&1 6>&1)
                $errs += @($o | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
                $o | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] }
            }
            # The first two only say what they would write (-WhatIf); the read-only check runs, and each sandbox node,
            # an image root, refuses it with its own error.
            @($errs | Where-Object { $_.FullyQualifiedErrorId -notlike 'S3MountThroughputNoImage*' }) | Should -BeNullOrEmpty
            @($errs).Count | Should -Be 2
            @($out | Where-Object { $_ -is [S3Mount.S3MountThroughput] }) | Should -BeNullOrEmpty
        }
        finally {
            $PSDefaultParameterValues.Clear()
            Stop-FakeSsm $fake
        }
    }
}
