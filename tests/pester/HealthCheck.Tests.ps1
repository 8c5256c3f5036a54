#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# New-S3MountService -HealthCheckIntervalSeconds as a user sees it, against an offline image root (-Root): the unit and its
# health check timer land in the image, Get-S3MountService -Root shows the interval, 0 turns the check off, bad values
# are refused before anything is written, Remove-S3MountService takes the timer with the mount.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Shared.ps1')
    Import-Module $ModuleManifest -Force -ErrorAction Stop
}

AfterAll {
    Remove-Module S3Mount -ErrorAction SilentlyContinue
}

Describe 'The health check of a mount in an offline image' {
    BeforeAll {
        $root = New-S3MountSandbox
        $units = Join-Path $root 'etc/systemd/system'
        $program = Join-Path $root 'usr/local/libexec/s3mount/health-check'
    }

    AfterAll {
        Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'is on by default, every 30 s: the unit records it, the timer, its service and its enable link land in the image' {
        $s = New-S3MountService -Root $root -Bucket my-bucket -Path /mnt/data -User ec2-user
        $s.HealthCheckIntervalSeconds | Should -Be 30
        $s.HealthCheckState | Should -Be 'enabled'
        $id = $s.Name -replace '^mountpoint-s3-', '' -replace '\.service$', ''
        Get-Content -LiteralPath (Join-Path $units $s.Name) | Should -Contain 'X-S3Mount-HealthCheck=30'
        $timer = Get-Content -LiteralPath (Join-Path $units "s3mount-health-$id.timer")
        $timer | Should -Contain 'OnUnitActiveSec=30'
        Join-Path $units "s3mount-health-$id.service" | Should -Exist
        (Get-Item -LiteralPath (Join-Path $units "timers.target.wants/s3mount-health-$id.timer")).Target | Should -Be "/etc/systemd/system/s3mount-health-$id.timer"
        $program | Should -Exist
        (Get-Item -LiteralPath $program).UnixMode | Should -Be '-rwxr-xr-x'
    }

    It 'takes another interval, and Get-S3MountService -Root and Test-S3MountService show it' {
        $s = New-S3MountService -Root $root -Bucket my-bucket -Path /mnt/slow -User ec2-user -HealthCheckIntervalSeconds 120
        $s.HealthCheckIntervalSeconds | Should -Be 120
        $id = $s.Name -replace '^mountpoint-s3-', '' -replace '\.service$', ''
        Get-Content -LiteralPath (Join-Path $units "s3mount-health-$id.timer") | Should -Contain 'OnUnitActiveSec=120'
        $listed = Get-S3MountService -Root $root -Path /mnt/slow
        $listed.HealthCheckIntervalSeconds | Should -Be 120
        $listed.HealthCheckState | Should -Be 'enabled'
        $again = $listed | New-S3MountService -WarningAction SilentlyContinue
        $again.Changed | Should -BeFalse -Because 'piped back, the interval binds by property name like the options'
        $again.HealthCheckIntervalSeconds | Should -Be 120
        $listed.Warnings | Should -BeNullOrEmpty
        (Get-S3MountService -Root $root -Path /mnt/data).HealthCheckIntervalSeconds | Should -Be 30
    }

    It 'is off with 0: no timer in the image, and a change of interval needs -Force like any other setting' {
        { New-S3MountService -Root $root -Bucket my-bucket -Path /mnt/slow -User ec2-user -HealthCheckIntervalSeconds 0 -ErrorAction Stop } |
            Should -Throw -ErrorId 'S3MountServiceExists,*'
        $s = New-S3MountService -Root $root -Bucket my-bucket -Path /mnt/slow -User ec2-user -HealthCheckIntervalSeconds 0 -Force
        $s.HealthCheckIntervalSeconds | Should -Be 0
        $s.HealthCheckState | Should -Be 'none'
        $id = $s.Name -replace '^mountpoint-s3-', '' -replace '\.service$', ''
        Join-Path $units "s3mount-health-$id.timer" | Should -Not -Exist
        Join-Path $units "s3mount-health-$id.service" | Should -Not -Exist
        $program | Should -Exist -Because 'the mount at /mnt/data still has its health check'
    }

    It 'refuses an interval out of range before anything is written (<Seconds> s)' -ForEach @(
        @{ Seconds = 5; ErrorId = 'S3MountOptionInvalid' }
        @{ Seconds = 100000; ErrorId = 'ParameterArgumentValidationError' }
        @{ Seconds = -1; ErrorId = 'ParameterArgumentValidationError' }
    ) {
        $before = Get-SandboxSnapshot -Root $root
        { New-S3MountService -Root $root -Bucket my-bucket -Path /mnt/other -User ec2-user -HealthCheckIntervalSeconds $Seconds -ErrorAction Stop } |
            Should -Throw -ErrorId "$ErrorId,*"
        Get-SandboxSnapshot -Root $root | Should -Be $before
    }

    It 'goes with the mount: Remove-S3MountService takes timer, service, link, and the program with the last one' {
        Get-S3MountService -Root $root | Remove-S3MountService -Root $root -RemoveDirectory -Confirm:$false
        @(Get-ChildItem -LiteralPath $units -Recurse -Force | Where-Object Name -Like 's3mount-health-*') | Should -BeNullOrEmpty
        $program | Should -Not -Exist
        @(Get-S3MountService -Root $root).Count | Should -Be 0
    }
}
