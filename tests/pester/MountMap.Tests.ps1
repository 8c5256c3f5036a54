#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# Compare-S3MountService and Sync-S3MountService as users run them: map files read as data (never run), piped maps,
# offline image roots, and fleets through the fake SSM service (sandbox nodes whose file systems are real directories).
BeforeDiscovery {
    # The hostile map corpus: each file must be refused before anything is sent, with its own problem id and line.
    $script:Hostile = @(
        @{ Name = 'a sub-expression'; Id = 'S3MountMapExecutable'; Line = 3; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = `$(New-Item -ItemType File -Path '{PWNED}') }`n    )`n}" }
        @{ Name = 'a call with &'; Id = 'S3MountMapExecutable'; Line = 4; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = '/mnt/s3' }`n        & touch '{PWNED}'`n    )`n}" }
        @{ Name = 'Invoke-Expression'; Id = 'S3MountMapExecutable'; Line = 2; Text = "@{`n    Mounts = Invoke-Expression 'New-Item {PWNED}'`n}" }
        @{ Name = 'a variable'; Id = 'S3MountMapExecutable'; Line = 3; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = `$env:HOME }`n    )`n}" }
        @{ Name = 'a script block'; Id = 'S3MountMapExecutable'; Line = 3; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = '/mnt/s3'; User = { New-Item '{PWNED}' } }`n    )`n}" }
        @{ Name = 'an expanding string'; Id = 'S3MountMapExecutable'; Line = 3; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = `"/mnt/`$(New-Item '{PWNED}')`" }`n    )`n}" }
        @{ Name = 'a method call'; Id = 'S3MountMapExecutable'; Line = 3; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = [IO.File]::WriteAllText('{PWNED}', 'x') }`n    )`n}" }
        @{ Name = 'a statement after the map'; Id = 'S3MountMapShape'; Line = 2; Text = "@{ Mounts = @() }`nNew-Item '{PWNED}'" }
        @{ Name = 'a wrong type'; Id = 'S3MountOptionInvalid'; Line = 3; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = '/mnt/s3'; ReadOnly = 'yes' }`n    )`n}" }
        @{ Name = 'a number where text goes'; Id = 'S3MountOptionInvalid'; Line = 3; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = '/mnt/s3'; DirMode = 0755 }`n    )`n}" }
        @{ Name = 'an unknown key in a mount'; Id = 'S3MountFieldUnknown'; Line = 3; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = '/mnt/s3'; ReadOnlz = `$true }`n    )`n}" }
        @{ Name = 'an unknown key in the map'; Id = 'S3MountMapShape'; Line = 3; Text = "@{`n    Mounts = @( @{ Bucket = 'my-bucket'; Path = '/mnt/s3' } )`n    Mount = @()`n}" }
        @{ Name = 'a duplicate path'; Id = 'S3MountMapDuplicatePath'; Line = 4; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = '/mnt/s3' }`n        @{ Bucket = 'my-bucket'; Path = '/mnt/s3/' }`n    )`n}" }
        @{ Name = 'two buckets on one path'; Id = 'S3MountMapPathConflict'; Line = 4; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = '/mnt/s3' }`n        @{ Bucket = 'other-bucket'; Path = '/mnt/s3' }`n    )`n}" }
        @{ Name = 'a path inside another mount'; Id = 'S3MountMapNested'; Line = 4; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = '/mnt/s3' }`n        @{ Bucket = 'other-bucket'; Path = '/mnt/s3/inner' }`n    )`n}" }
        @{ Name = 'an invalid mount'; Id = 'S3MountPathInvalid'; Line = 3; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = 'relative/path' }`n    )`n}" }
        @{ Name = 'a syntax error'; Id = 'S3MountMapSyntax'; Line = 3; Text = "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = '/mnt/s3' `n    )`n}" }
    )
}

Describe 'Mount maps' -Skip:(-not $IsLinux) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Shared.ps1')
        Import-Module $ModuleManifest -Force -ErrorAction Stop
        $user = [System.Environment]::UserName
        $dir = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-maps-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $dir
        $map = Join-Path $dir 'compute.psd1'
        Set-Content -LiteralPath $map -Value @"
@{
    # Fields every mount has unless it says otherwise.
    Defaults = @{ User = '$user' }
    Mounts   = @(
        @{ Bucket = 'genomics-ref'; Path = '/fsx/ref'; ReadOnly = `$true; AllowOther = `$true }
        @{ Bucket = 's3://results/run-42/'; Path = '/mnt/results'; AllowDelete = `$true }
        @{ Bucket = 'scratch'; Path = '/mnt/scratch'; CacheDirectory = '/var/cache/s3/scratch'; MaxCacheSizeMiB = 1024; User = 'root' }
    )
}
"@
        $fake = Start-FakeSsm -Nodes 3 -Offline 0
        $aws = @{ EndpointUrl = $fake.Endpoint; Region = $fake.Region; AccessKey = $fake.AccessKey; SecretKey = $fake.SecretKey }
    }

    AfterAll {
        Stop-FakeSsm $fake
        Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
        Remove-Module S3Mount -ErrorAction SilentlyContinue
    }

    Context 'a hostile map file' {
        It 'refuses <Name> before anything is sent, with its id and line, and runs nothing' -ForEach $Hostile {
            $pwned = Join-Path $dir ('pwned-' + [guid]::NewGuid().ToString('N'))
            $file = Join-Path $dir ('hostile-' + [guid]::NewGuid().ToString('N') + '.psd1')
            Set-Content -LiteralPath $file -Value $Text.Replace('{PWNED}', $pwned)
            $sent = (Get-FakeSsmState $fake).calls.SendCommand
            foreach ($cmdlet in 'Compare-S3MountService', 'Sync-S3MountService') {
                $err = $null
                $confirm = if ($cmdlet -like 'Sync-*') { @{ Confirm = $false } } else { @{} }
                try { & $cmdlet -MapPath $file -InstanceId $fake.Instances @aws @confirm -ErrorAction Stop } catch { $err = $_ }
                $err | Should -Not -BeNullOrEmpty -Because "$cmdlet must refuse $Name"
                $err.FullyQualifiedErrorId | Should -BeLike 'S3MountMapInvalid,*'
                $err.CategoryInfo.Category | Should -Be 'InvalidData'
                $err.Exception.Message | Should -Match ([regex]::Escape("${file}:$Line") + ':\d+: .*\(' + $Id + '\)')
            }
            (Get-FakeSsmState $fake).calls.SendCommand | Should -Be $sent
            Test-Path -LiteralPath $pwned | Should -BeFalse
        }

        It 'lists every problem of a file at once, each with its line and column' {
            $file = Join-Path $dir 'many.psd1'
            Set-Content -LiteralPath $file -Value "@{`n    Mounts = @(`n        @{ Bucket = 'my-bucket'; Path = `$x }`n        @{ Bucket = 'b2-bucket'; Path = '/mnt/b'; Nope = 1 }`n    )`n    Other = 1`n}"
            $err = $null
            try { Compare-S3MountService $file -Root $dir -ErrorAction Stop } catch { $err = $_ }
            $err.Exception.Message | Should -Match '3 problems'
            $err.Exception.Message | Should -Match 'many\.psd1:3:41: Mounts\[0\]\.Path: the variable \$x'
            $err.Exception.Message | Should -Match 'many\.psd1:4:51: Mounts\[1\]\.Nope: .Nope. is not a field'
            $err.Exception.Message | Should -Match 'many\.psd1:6:5: Other:'
        }

        It 'refuses a map file that does not exist, and no map at all' {
            { Compare-S3MountService (Join-Path $dir 'absent.psd1') -Root $dir -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountMapNotFound,*'
            { Compare-S3MountService -Root $dir -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountMapInvalid,*'
        }
    }

    Context 'an offline image root' {
        BeforeAll { $img = New-S3MountSandbox }
        AfterAll { Remove-Item -LiteralPath $img -Recurse -Force -ErrorAction SilentlyContinue }

        It 'reports every mount Missing on an empty image, one object per mount, and a summary' {
            $drift = @(Compare-S3MountService -MapPath $map -Root $img -InformationVariable info)
            $drift.Count | Should -Be 3
            $drift | ForEach-Object { $_.State | Should -Be 'Missing'; $_.Root | Should -Be $img; $_.Node | Should -Be $img }
            @($drift.Path) | Should -Be @('/fsx/ref', '/mnt/results', '/mnt/scratch')
            "$info" | Should -Match 'Compare-S3MountService: 1 node, 3 mounts: 3 Missing\.'
        }

        It '-WhatIf prints the plan the image would run, and writes nothing' {
            $before = Get-SandboxSnapshot $img
            $out = Invoke-FreshPwsh "Import-Module '$ModuleManifest'; Sync-S3MountService -MapPath '$map' -Root '$img' -WhatIf"
            $whatIf = @($out | Where-Object { "$_" -like 'What if:*' })
            $whatIf.Count | Should -Be 3
            $whatIf[0] | Should -Match 'Create mount service.*s3://genomics-ref/ at /fsx/ref\) in '
            Get-SandboxSnapshot $img | Should -Be $before
        }

        It 'converges once: Created, then InSync with Changed False and not a byte written' {
            $first = @(Sync-S3MountService -MapPath $map -Root $img -WarningAction SilentlyContinue)
            @($first.Action) | Should -Be @('Created', 'Created', 'Created')
            $first | ForEach-Object { $_.Changed | Should -BeTrue }
            $after = Get-SandboxSnapshot $img
            $second = @(Sync-S3MountService -MapPath $map -Root $img -WarningAction SilentlyContinue)
            @($second.Action) | Should -Be @('InSync', 'InSync', 'InSync')
            $second | ForEach-Object { $_.Changed | Should -BeFalse; $_.Restarted | Should -BeFalse }
            Get-SandboxSnapshot $img | Should -Be $after
            @(Get-S3MountService -Root $img).Count | Should -Be 3
        }

        It 'reports a drifted mount with each differing field, old and new, and updates only that one' {
            $changed = [pscustomobject]@{ Bucket = 'genomics-ref'; Path = '/fsx/ref'; AllowOther = $true; User = $user }
            $drift = @($changed | Compare-S3MountService -Root $img)
            $d = $drift | Where-Object Path -eq '/fsx/ref'
            $d.State | Should -Be 'Drifted'
            @($d.Differences.Field) | Should -Be @('ReadOnly')
            $d.Differences[0].Old | Should -BeTrue
            $d.Differences[0].New | Should -BeNullOrEmpty
            $d.Detail | Should -Be 'ReadOnly: True -> (not set)'
            @($drift | Where-Object State -eq Extra).Count | Should -Be 2
        }

        It 'takes a good node''s mounts as the map: Get-S3MountService output pipes in' {
            $other = New-S3MountSandbox
            try {
                $synced = @(Get-S3MountService -Root $img | Sync-S3MountService -Root $other -WarningAction SilentlyContinue)
                @($synced.Action | Sort-Object -Unique) | Should -Be @('Created')
                @(Get-S3MountService -Root $img | Compare-S3MountService -Root $other | Where-Object State -ne InSync) | Should -BeNullOrEmpty
                (Get-ChildItem (Join-Path $other 'etc/systemd/system') -Filter 'mountpoint-s3-*.service' | Get-Content -Raw) |
                    Should -Be (Get-ChildItem (Join-Path $img 'etc/systemd/system') -Filter 'mountpoint-s3-*.service' | Get-Content -Raw)
            }
            finally { Remove-Item -LiteralPath $other -Recurse -Force }
        }

        It 'removes mounts that are not in the map only with -Prune' {
            $one = @{ Bucket = 's3://results/run-42/'; Path = '/mnt/results'; AllowDelete = $true; User = $user }
            $kept = @($one | Sync-S3MountService -Root $img)
            @($kept | Where-Object Action -eq Kept).Count | Should -Be 2
            @(Get-S3MountService -Root $img).Count | Should -Be 3
            $pruned = @($one | Sync-S3MountService -Root $img -Prune)
            @($pruned | Group-Object Action | Sort-Object Name | ForEach-Object { "$($_.Name) $($_.Count)" }) | Should -Be @('InSync 1', 'Removed 2')
            @(Get-S3MountService -Root $img).Path | Should -Be '/mnt/results'
        }

        It 'refuses a piped object with a property that is not a field, and a piped map together with a file' {
            { [pscustomobject]@{ Bucket = 'my-bucket'; Path = '/mnt/s3'; Readonlyy = $true } | Compare-S3MountService -Root $img -ErrorAction Stop } |
                Should -Throw -ErrorId 'S3MountMapInvalid,*'
            { [pscustomobject]@{ Bucket = 'my-bucket'; Path = '/mnt/s3' } | Compare-S3MountService $map -Root $img -ErrorAction Stop } |
                Should -Throw -ErrorId 'S3MountParameterConflict,*'
        }
    }

    Context 'a fleet through SSM Run Command' {
        It 'one SendCommand for three nodes; one object per node and mount; Group-Object Action is the report' {
            $before = (Get-FakeSsmState $fake).calls.SendCommand
            $drift = @(Compare-S3MountService $map -InstanceId $fake.Instances @aws)
            $drift.Count | Should -Be 9
            @($drift.InstanceId | Sort-Object -Unique) | Should -Be @($fake.Instances | Sort-Object)
            (Get-FakeSsmState $fake).calls.SendCommand | Should -Be ($before + 1)

            $synced = @(Sync-S3MountService $map -InstanceId $fake.Instances @aws -Confirm:$false -WarningAction SilentlyContinue -InformationVariable info)
            (Get-FakeSsmState $fake).calls.SendCommand | Should -Be ($before + 2)
            ($synced | Group-Object Action).Name | Should -Be 'Created'
            ($synced | Group-Object Action).Count | Should -Be 9
            "$info" | Should -Match 'Sync-S3MountService: 3 nodes, 9 mounts: 9 Created\.'
            @(Sync-S3MountService $map -InstanceId $fake.Instances @aws -Confirm:$false -WarningAction SilentlyContinue | Where-Object Action -ne InSync) | Should -BeNullOrEmpty
        }

        It '-WhatIf asks the nodes for the plan and prints it per node; nothing changes' {
            $node = Join-Path $fake.Sandbox $fake.Instances[0]
            $before = Get-SandboxSnapshot $node
            $one = @{ Bucket = 'genomics-ref'; Path = '/fsx/ref'; User = $user }
            $cmd = "Import-Module '$ModuleManifest'; @{ Bucket = 'genomics-ref'; Path = '/fsx/ref'; User = '$user' } | Sync-S3MountService -Prune -WhatIf -InstanceId $($fake.Instances[0]) -EndpointUrl '$($fake.Endpoint)' -Region $($fake.Region) -AccessKey $($fake.AccessKey) -SecretKey '$($fake.SecretKey)'"
            $whatIf = @(Invoke-FreshPwsh $cmd | Where-Object { "$_" -like 'What if:*' })
            $whatIf.Count | Should -Be 3
            @($whatIf | Where-Object { $_ -match 'Update mount service.*/fsx/ref.* on i-.*ReadOnly: True -> \(not set\)' }).Count | Should -Be 1
            @($whatIf | Where-Object { $_ -match 'Remove mount service' }).Count | Should -Be 2
            Get-SandboxSnapshot $node | Should -Be $before
            $null = $one
        }

        It 'refuses piped mounts that came from a node when no nodes are named' {
            { Get-S3MountService -InstanceId $fake.Instances[0] @aws | Compare-S3MountService @aws -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountParameterConflict,*'
        }

        It 'reads at 80 columns: the table groups by node and keeps Action, Path, Uri and Detail' {
            $text = Sync-S3MountService $map -InstanceId $fake.Instances[0] @aws -Confirm:$false -WarningAction SilentlyContinue | Out-String -Width 80
            $lines = $text -split "`n"
            $lines | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 }
            $text | Should -Match "Node: $($fake.Instances[0])"
            $text | Should -Match 'Action\s+Path\s+Uri\s+Detail'
            $text | Should -Match 'InSync\s+/fsx/ref\s+s3://genomics-ref/'
        }
    }
}
