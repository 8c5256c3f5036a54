#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

BeforeAll {
    . (Join-Path $PSScriptRoot 'Shared.ps1')
    Import-Module $ModuleManifest -Force -ErrorAction Stop
}

AfterAll {
    Remove-Module S3Mount -ErrorAction SilentlyContinue
}

Describe 'The S3Mount module' {
    It 'exports exactly its cmdlets and nothing else' {
        $module = Get-Module S3Mount
        $expected = 'Compare-S3MountService', 'Disable-S3MountService', 'Enable-S3MountService', 'Export-S3MountBootstrap', 'Get-MountpointS3',
            'Get-S3MountIamPolicy', 'Get-S3MountService', 'Install-MountpointS3', 'Measure-S3MountThroughput', 'New-S3MountService',
            'Remove-S3MountService', 'Repair-S3MountService', 'Restart-S3MountService', 'Start-S3MountService', 'Stop-S3MountService',
            'Sync-S3MountService', 'Test-S3MountService'
        @($module.ExportedCmdlets.Keys | Sort-Object) | Should -Be $expected
        $module.ExportedFunctions.Count | Should -Be 0
        $module.ExportedAliases.Count | Should -Be 0
        $module.ExportedVariables.Count | Should -Be 0
    }

    It 'has the version of the manifest' {
        (Get-Module S3Mount).Version | Should -Be (Import-PowerShellDataFile $ModuleManifest).ModuleVersion
    }

    It 'imports from the repository root as well' {
        $out = Invoke-FreshPwsh "Import-Module '$(Join-Path $RepoRoot 'S3Mount.psd1')' -ErrorAction Stop; (Get-Command -Module S3Mount).Count"
        $LASTEXITCODE | Should -Be 0 -Because ($out | Out-String)
        [int]($out | Select-Object -Last 1) | Should -Be (Import-PowerShellDataFile $ModuleManifest).CmdletsToExport.Count
    }

    It 'ships about_S3Mount' {
        (Get-Help about_S3Mount | Out-String) | Should -Match 'S3Mount installs Mountpoint for Amazon S3'
    }
}

Describe 'Help' {
    BeforeDiscovery {
        $commands = @(Get-Command -Module S3Mount -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
    }

    It '<Name> has a synopsis, a description, every parameter described and two examples, one for a fleet' -ForEach $commands {
        $help = Get-Help -Name $Name -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$Name"
        ($help.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty
        $common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
        foreach ($p in (Get-Command $Name).Parameters.Keys | Where-Object { $_ -notin $common }) {
            $described = $help.Parameters.Parameter | Where-Object Name -EQ $p
            ($described.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$p of $Name needs a description"
        }
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        (@($help.Examples.Example.Code) -join "`n") | Should -Match 'InstanceId|-Target'
    }
}

Describe 'Parameter binding' {
    It 'binds InstanceId by property name from any object (EC2, SSM, S3Mount output)' {
        $cmd = Get-Command New-S3MountService
        $cmd.Parameters['InstanceId'].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] }).ValueFromPipelineByPropertyName | Should -Contain $true
        foreach ($name in 'Get-S3MountService', 'Remove-S3MountService', 'Repair-S3MountService', 'Test-S3MountService', 'Install-MountpointS3', 'Get-MountpointS3') {
            (Get-Command $name).Parameters['InstanceId'].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] }).ValueFromPipelineByPropertyName | Should -Contain $true
        }
    }

    It 'takes the AWS.Tools aliases' {
        $p = (Get-Command Get-S3MountService).Parameters
        $p['Region'].Aliases | Should -Contain 'RegionToCall'
        $p['ProfileName'].Aliases | Should -Contain 'StoredCredentials'
        $p['ProfileName'].Aliases | Should -Contain 'AWSProfileName'
        $p['AccessKey'].Aliases | Should -Contain 'AK'
        $p['SecretKey'].Aliases | Should -Contain 'SK'
        $p['SessionToken'].Aliases | Should -Contain 'ST'
        (Get-Command New-S3MountService).Parameters['Region'].Aliases | Should -Contain 'RegionToCall'
    }

    It 'collects piped objects with an InstanceId and asks once per node under -WhatIf, sending nothing' {
        $nodes = 'i-0123456789abcdef0', 'i-0123456789abcdef1' | ForEach-Object { [pscustomobject]@{ InstanceId = $_ } }
        # No endpoint, region or credentials: any SSM call would fail with an error. -WhatIf must make none.
        $out = $nodes | New-S3MountService -Bucket my-bucket -Path /mnt/s3 -ReadOnly -WhatIf -ErrorVariable errs -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $errs | Should -BeNullOrEmpty
    }

    It 'Remove-S3MountService is high impact and -Force does not override -WhatIf' {
        (Get-Command Remove-S3MountService).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $true)[0].ConfirmImpact |
            Should -Be ([System.Management.Automation.ConfirmImpact]::High)
        $obj = [pscustomobject]@{ InstanceId = 'i-0123456789abcdef0'; Name = 'mountpoint-s3-17a82347.service'; Path = '/mnt/s3' }
        $out = $obj | Remove-S3MountService -Force -WhatIf -ErrorVariable errs -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $errs | Should -BeNullOrEmpty
    }
}

Describe 'Refusals carry stable error ids and write nothing' -Skip:(-not $IsLinux) {
    BeforeAll {
        $root = New-S3MountSandbox
        $before = Get-SandboxSnapshot -Root $root
    }

    AfterAll {
        Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction SilentlyContinue
    }

    It '<Why> is refused with <ErrorId>' -ForEach @(
        @{ Why = 'a bad bucket name'; ErrorId = 'S3MountBucketInvalid'; Splat = @{ Bucket = 'My_Bucket'; Path = '/mnt/s3' } }
        @{ Why = 'a path under /etc'; ErrorId = 'S3MountPathInvalid'; Splat = @{ Bucket = 'my-bucket'; Path = '/etc/s3' } }
        @{ Why = 'a relative path'; ErrorId = 'S3MountPathInvalid'; Splat = @{ Bucket = 'my-bucket'; Path = 'mnt/s3' } }
        @{ Why = 'a newline in the path'; ErrorId = 'S3MountControlCharacter'; Splat = @{ Bucket = 'my-bucket'; Path = "/mnt/a`nb" } }
        @{ Why = 'allow-root with allow-other'; ErrorId = 'S3MountOptionConflict'; Splat = @{ Bucket = 'my-bucket'; Path = '/mnt/s3'; AllowRoot = $true; AllowOther = $true } }
        @{ Why = 'read-only with allow-delete'; ErrorId = 'S3MountOptionConflict'; Splat = @{ Bucket = 'my-bucket'; Path = '/mnt/s3'; ReadOnly = $true; AllowDelete = $true } }
        @{ Why = 'an extra positional argument'; ErrorId = 'S3MountExtraArgumentInvalid'; Splat = @{ Bucket = 'my-bucket'; Path = '/mnt/s3'; ExtraArgument = 'other-bucket' } }
        @{ Why = 'a prefix without a slash'; ErrorId = 'S3MountPrefixInvalid'; Splat = @{ Bucket = 'my-bucket'; Path = '/mnt/s3'; Prefix = 'logs' } }
        @{ Why = 'uid 0'; ErrorId = 'S3MountOptionInvalid'; Splat = @{ Bucket = 'my-bucket'; Path = '/mnt/s3'; Uid = 0 } }
    ) {
        { New-S3MountService -Root $root @Splat -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId,*"
        Get-SandboxSnapshot -Root $root | Should -Be $before
    }

    It 'an unknown service name is refused' {
        { Remove-S3MountService -Root $root -Name 'sshd.service' -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountNameInvalid,*'
    }

    It 'a user the image does not have is refused on the node' {
        { New-S3MountService -Root $root -Bucket my-bucket -Path /mnt/s3 -User 'no-such-user-s3m' -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountUserUnknown,*'
        Get-SandboxSnapshot -Root $root | Should -Be $before
    }
}

Describe 'Create, list and remove in an offline image root' -Skip:(-not $IsLinux) {
    BeforeAll {
        $root = New-S3MountSandbox
        # A user of the image, not of this machine: non-root, so -AllowOther needs user_allow_other in its fuse.conf.
        $user = 'ec2-user'
    }

    AfterAll {
        Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction SilentlyContinue
    }

    It '-WhatIf writes nothing' {
        $before = Get-SandboxSnapshot -Root $root
        New-S3MountService -Root $root -Bucket my-bucket -Path '/mnt/my data' -User $user -WhatIf | Should -BeNullOrEmpty
        Get-SandboxSnapshot -Root $root | Should -Be $before
    }

    It 'creates the unit, its enable link and the directory' {
        $s = New-S3MountService -Root $root -Bucket s3://my-bucket/runs/ -Path '/mnt/my data' -ReadOnly -AllowOther -User $user
        $s | Should -BeOfType ([S3Mount.S3MountService])
        $s.Name | Should -Match '^mountpoint-s3-[0-9a-f]{8}\.service$'
        $s.Bucket | Should -Be 'my-bucket'
        $s.Prefix | Should -Be 'runs/'
        $s.Path | Should -Be '/mnt/my data'
        $s.Changed | Should -BeTrue
        $s.Enabled | Should -BeTrue
        Join-Path $root "etc/systemd/system/$($s.Name)" | Should -Exist
        (Get-Item -LiteralPath (Join-Path $root "etc/systemd/system/remote-fs.target.wants/$($s.Name)")).LinkType | Should -Be 'SymbolicLink'
        Join-Path $root 'mnt/my data' | Should -Exist
        Get-Content -LiteralPath (Join-Path $root 'etc/fuse.conf') | Should -Contain 'user_allow_other'
    }

    It 'applying the same settings again changes nothing' {
        $before = Get-SandboxSnapshot -Root $root
        (New-S3MountService -Root $root -Bucket s3://my-bucket/runs/ -Path '/mnt/my data' -ReadOnly -AllowOther -User $user).Changed | Should -BeFalse
        Get-SandboxSnapshot -Root $root | Should -Be $before
    }

    It 'other settings need -Force' {
        { New-S3MountService -Root $root -Bucket s3://my-bucket/runs/ -Path '/mnt/my data' -User $user -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountServiceExists,*'
    }

    It 'lists it back, and its output pipes into Remove-S3MountService' {
        $listed = @(Get-S3MountService -Root $root)
        $listed.Count | Should -Be 1
        $listed[0].Options.ReadOnly | Should -BeTrue
        $listed[0].Origin | Should -Be 'S3Mount'
        $listed | Remove-S3MountService -Root $root -RemoveDirectory -Confirm:$false
        @(Get-S3MountService -Root $root).Count | Should -Be 0
        Join-Path $root 'mnt/my data' | Should -Not -Exist
    }
}

Describe 'Installing Mountpoint' {
    It 'Install-MountpointS3 -WhatIf installs nothing and prints no errors' {
        Install-MountpointS3 -Version 1.23.0 -WhatIf -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $errs | Should -BeNullOrEmpty
    }

    It 'refuses a plain http URL with a stable id before anything runs' {
        { Install-MountpointS3 -PackageUrl 'http://example.com/mount-s3.deb' -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountSourceInvalid,*'
    }

    It 'refuses a malformed trusted fingerprint' {
        { Install-MountpointS3 -TrustedFingerprint 'not-a-fingerprint' -WhatIf -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountFingerprintInvalid,*'
    }

    It 'Get-MountpointS3 reports this machine' -Skip:(-not $IsLinux) {
        $r = Get-MountpointS3
        $r | Should -BeOfType ([S3Mount.MountpointInstallation])
        $r.Architecture | Should -BeIn @('x86_64', 'arm64', '')
    }
}
