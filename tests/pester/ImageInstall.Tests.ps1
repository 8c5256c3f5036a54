#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Install-MountpointS3 -Root in a real session, on a real image: an overlay over the node lab's debootstrap Debian 12
# tree (the tree lab nodes boot), as an AMI build has it, and the lab's signed package server as the release mirror.
# The image's own apt installs the package in a chroot; this machine's packages must not change.
# Needs root; without root it skips with the reason, except under CI=true, where a lab that cannot start fails.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Shared.ps1')
}

Describe 'Install-MountpointS3 -Root installs into an image (AMI build)' {
    BeforeAll {
        $skipReason = Get-LabUnavailableReason
        if ($skipReason -and $env:CI -ne 'true') { return }
        if ($skipReason) { throw "The node lab cannot start here: $skipReason. Under CI=true this fails instead of skipping." }

        $savedLabEnv = Enter-TestLab -Name image
        $pkg = @{}
        foreach ($line in Invoke-Lab pkg, serve) { $k, $v = $line -split '=', 2; $pkg[$k] = $v }
        $base = @(Invoke-Lab base)[-1].Trim()
        $work = Join-Path ([System.IO.Path]::GetTempPath()) "s3mount-pester-image-$PID"
        $image = Join-Path $work 'image'
        $null = New-Item -ItemType Directory -Force -Path (Join-Path $work 'upper'), (Join-Path $work 'work'), $image
        & mount -t overlay s3mount-pester-image -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" $image
        if ($LASTEXITCODE -ne 0) { throw "mounting the image overlay failed ($LASTEXITCODE)" }
        $hostPackages = (& dpkg-query -W -f '${Package} ${Version}\n' | Sort-Object) -join "`n"
        Import-Module $ModuleManifest -Force
        $mirror = @{ ReleaseUrl = $pkg['base']; TrustedFingerprint = $pkg['fingerprint'] }
    }

    AfterAll {
        Remove-Module S3Mount -ErrorAction SilentlyContinue
        if ($image) { & umount $image 2>$null }
        if ($work) { Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue }
        Exit-TestLab $savedLabEnv
    }

    BeforeEach {
        if ($skipReason) { Set-ItResult -Skipped -Because $skipReason }
    }

    It 'reports the image before: Debian, nothing installed' {
        $before = Get-MountpointS3 -Root $image
        $before.Root | Should -Be $image
        $before.IsInstalled | Should -BeFalse
        $before.OsId | Should -Be 'debian'
    }

    It '-WhatIf changes nothing in the image' {
        $null = Install-MountpointS3 -Root $image -Version 1.23.0 @mirror -WhatIf
        Test-Path -LiteralPath (Join-Path $image 'opt/aws/mountpoint-s3/bin/mount-s3') | Should -BeFalse
    }

    It 'installs the signed package with the image''s own package manager, relative -Root resolved like New-Item' {
        Push-Location $work
        try { $installed = Install-MountpointS3 -Root ./image -Version 1.23.0 @mirror -Confirm:$false -ErrorAction Stop }
        finally { Pop-Location }
        $installed.Root | Should -Be $image
        $installed.Changed | Should -BeTrue
        "$($installed.InstalledVersion)" | Should -BeLike '1.23.0*'
        $installed.SignedBy | Should -Be $pkg['fingerprint']
        (& dpkg-query "--admindir=$image/var/lib/dpkg" -W -f '${Status}' mount-s3) | Should -Be 'install ok installed'
        Test-Path -LiteralPath (Join-Path $image 'opt/aws/mountpoint-s3/bin/mount-s3') | Should -BeTrue
        (& dpkg-query -W -f '${Package} ${Version}\n' | Sort-Object) -join "`n" | Should -Be $hostPackages -Because 'this machine''s packages stay as they were'
    }

    It 'a second install changes nothing, and the image reports the version' {
        (Install-MountpointS3 -Root $image -Version 1.23.0 @mirror -Confirm:$false -ErrorAction Stop).Changed | Should -BeFalse
        $after = Get-MountpointS3 -Root $image
        $after.IsInstalled | Should -BeTrue
        $after.InstalledVersion -ge [S3Mount.Engine.Model.MountpointVersion]::Parse('1.23.0') | Should -BeTrue
    }

    It 'an image root that does not exist is refused, and nothing is created' {
        $missing = Join-Path $work 'no-such-image'
        { Install-MountpointS3 -Root $missing -Version 1.23.0 @mirror -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountRootNotFound,S3Mount.Commands.InstallMountpointS3Command'
        Test-Path -LiteralPath $missing | Should -BeFalse
    }
}
