#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The README's one-node tour ("A tour: one node"), run INSIDE a booted lab node: as root, real systemd as PID 1, real
# FUSE, the module imported from a read-only bind (/usr/local/share/powershell/Modules/S3Mount/<version>), mount-s3
# installed from the lab's signed test package. tests/pester/NodeTour.Tests.ps1 boots the node, runs this file there
# in a fresh 'pwsh -NoProfile -NonInteractive' and turns every result into its own test. On purpose not named
# *.Tests.ps1: the host run (tests/pester, recursive) must not pick it up. The Its run in order and share the node.
#
# Every command of the README tour appears below as the README writes it (NodeTour.Tests.ps1 checks that); the lab's
# package server comes in through $PSDefaultParameterValues, as an admin of a mirror would set it.
# Environment: S3MOUNT_TOUR_RELEASE_URL (the lab's package server), S3MOUNT_TOUR_FINGERPRINT (its test key).

BeforeAll {
    $ErrorActionPreference = 'Stop'
    $releaseUrl = $env:S3MOUNT_TOUR_RELEASE_URL
    $fingerprint = $env:S3MOUNT_TOUR_FINGERPRINT
    if (-not $releaseUrl -or -not $fingerprint) {
        throw 'S3MOUNT_TOUR_RELEASE_URL and S3MOUNT_TOUR_FINGERPRINT must be set (tests/pester/NodeTour.Tests.ps1 sets them from lab.sh pkg serve).'
    }

    # As the README installs it: a folder of $env:PSModulePath, then Import-Module by name.
    Import-Module S3Mount
    $PSDefaultParameterValues['Install-MountpointS3:ReleaseUrl'] = $releaseUrl
    $PSDefaultParameterValues['Install-MountpointS3:TrustedFingerprint'] = $fingerprint

    function Invoke-Checked {
        # Runs a native command; its output, or a failure with its exit code and output.
        param([Parameter(Mandatory)] [string] $File, [string[]] $Arguments)
        $out = & $File @Arguments 2>&1
        if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') exited with $LASTEXITCODE`: $($out -join "`n")" }
        $out
    }

    function Get-FuseMount {
        # The FUSE mounts of /proc/self/mountinfo (optionally only the one at Path): id, mount point, options, source.
        param([string] $Path)
        foreach ($line in [System.IO.File]::ReadAllLines('/proc/self/mountinfo')) {
            $halves = $line -split ' - ', 2
            $f = $halves[0] -split ' '
            $g = $halves[1] -split ' '
            $point = [regex]::Replace($f[4], '\\([0-7]{3})', { param($m) [string][char][Convert]::ToInt32($m.Groups[1].Value, 8) })
            if ($g[0] -notlike 'fuse*' -or ($Path -and $point -ne $Path)) { continue }
            [pscustomobject]@{ Id = $f[0]; Path = $point; Options = $f[5] -split ','; FsType = $g[0]; Source = $g[1]; SuperOptions = $g[2] -split ',' }
        }
    }

    function Get-Unit {
        # systemd's own view of a unit.
        param([Parameter(Mandatory)] [string] $Name)
        $p = @{}
        foreach ($l in Invoke-Checked systemctl @('show', '-p', 'LoadState,ActiveState,SubState,MainPID,NRestarts,UnitFileState,User', $Name)) {
            $k, $v = $l -split '=', 2
            $p[$k] = $v
        }
        [pscustomobject]$p
    }

    function Get-NodeSnapshot {
        # Everything the tour could change: unit files and links, fuse.conf, the mount and cache directories, FUSE mounts
        # (not through them: -xdev), the mount units' states, main PIDs and restart counts, the installed package.
        $paths = '/etc/systemd/system', '/etc/fuse.conf', '/fsx', '/mnt/nvme' | Where-Object { Test-Path -LiteralPath $_ }
        @(Invoke-Checked find (@($paths) + @('-xdev', '-printf', '%p %y %m %u:%g %l\n')) | Sort-Object)
        @(Invoke-Checked find (@($paths) + @('-xdev', '-type', 'f', '-exec', 'sha256sum', '{}', '+')) | Sort-Object)
        @(Get-FuseMount | ForEach-Object { "mount $($_.Id) $($_.Path) $($_.Source) $($_.Options -join ',') $($_.SuperOptions -join ',')" })
        foreach ($u in @(Invoke-Checked systemctl @('list-units', '--all', '--plain', '--no-legend', 'mountpoint-s3-*')) | ForEach-Object { ($_ -split ' ')[0] }) {
            "unit $u $((Get-Unit $u | ConvertTo-Json -Compress))"
        }
        "package $(& dpkg-query -W -f '${Status} ${Version}' mount-s3 2>$null)"
    }

    function Assert-NodeUnchanged {
        # Compares the node with an earlier snapshot; a failure lists only the lines that differ.
        param([Parameter(Mandatory)] [string[]] $Before)
        $diff = Compare-Object -ReferenceObject $Before -DifferenceObject @(Get-NodeSnapshot) |
            ForEach-Object { "$(if ($_.SideIndicator -eq '=>') { 'now' } else { 'was' }): $($_.InputObject)" }
        $diff | Should -BeNullOrEmpty -Because 'nothing on the node may change'
    }

    function Wait-Until {
        # Polls a condition until it is true or the time is up; returns the seconds it took, or throws with the last state.
        param([Parameter(Mandatory)] [scriptblock] $Condition, [double] $Seconds = 60, [Parameter(Mandatory)] [scriptblock] $State)
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        while (-not (& $Condition)) {
            if ($sw.Elapsed.TotalSeconds -gt $Seconds) { throw "not reached in $Seconds s; last state: $(& $State | Out-String)" }
            Start-Sleep -Milliseconds 100
        }
        $sw.Elapsed.TotalSeconds
    }

    # The README's names. The unit is named as the field recipe names it: md5("BUCKET:PATH"), first 8 hex digits.
    $bucket = 'genomics-ref'
    $path = '/fsx/ref'
    $cache = '/mnt/nvme/cache/ref'
    $md5 = [System.Security.Cryptography.MD5]::HashData([System.Text.Encoding]::UTF8.GetBytes("${bucket}:$path"))
    $unit = 'mountpoint-s3-' + [System.Convert]::ToHexString($md5).Substring(0, 8).ToLowerInvariant() + '.service'
    $unitPath = "/etc/systemd/system/$unit"
    $wantsLink = "/etc/systemd/system/remote-fs.target.wants/$unit"

    # The node's service user and the README's bucket on the lab's S3 server, with one object to read.
    if (-not (& getent passwd ec2-user)) { $null = Invoke-Checked useradd @('--create-home', 'ec2-user') }
    $endpoint = (Get-Content -LiteralPath /etc/mount-s3-standin/endpoint -Raw).Trim()
    $reply = Invoke-WebRequest -Method Put -Uri "$endpoint/$bucket" -SkipHttpErrorCheck
    if ($reply.StatusCode -notin 200, 409) { throw "creating bucket $bucket at $endpoint answered HTTP $($reply.StatusCode)" }
    $objectText = 'reference genome index'
    $null = Invoke-WebRequest -Method Put -Uri "$endpoint/$bucket/README.txt" -Body $objectText
}

Describe 'The README one-node tour, as root inside a booted lab node' {
    It 'runs as root on a booted systemd node with FUSE, the module imported from a read-only bind' {
        (Invoke-Checked id @('-u')) | Should -Be '0'
        (Get-Content -LiteralPath /proc/1/comm -Raw).Trim() | Should -Be 'systemd'
        (& systemctl is-system-running) | Should -BeIn 'running', 'degraded'
        (Invoke-Checked stat @('-c', '%F', '/dev/fuse')) | Should -Be 'character special file'
        $module = Get-Module S3Mount
        $module.ModuleBase | Should -BeLike '/usr/local/share/powershell/Modules/S3Mount*'
        $bind = [System.IO.File]::ReadAllLines('/proc/self/mountinfo') | Where-Object { ($_ -split ' ')[4] -eq $module.ModuleBase }
        $bind | Should -Not -BeNullOrEmpty -Because 'the module folder is a bind mount from the host'
        (($bind -split ' ')[5] -split ',') | Should -Contain 'ro'
        (Get-MountpointS3).IsInstalled | Should -BeFalse -Because 'the node starts without mount-s3'
    }

    It '-WhatIf installs and creates nothing' {
        $before = Get-NodeSnapshot
        $out = @(
            Install-MountpointS3 -Version 1.23.0 -WhatIf
            New-S3MountService -Bucket genomics-ref -Path /fsx/ref -ReadOnly -AllowOther -User ec2-user -CacheDirectory /mnt/nvme/cache/ref -WhatIf
        )
        $out | Should -BeNullOrEmpty
        Assert-NodeUnchanged $before
        Test-Path -LiteralPath $path | Should -BeFalse
    }

    It 'Install-MountpointS3 -Version 1.23.0 installs the signed test package' {
        $log = & { $VerbosePreference = 'Continue'; Install-MountpointS3 -Version 1.23.0 } 4>&1
        $installed = @($log | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
        $installed.Count | Should -Be 1
        $installed[0].Changed | Should -BeTrue
        $installed[0].InstalledVersion.ToString() | Should -Be '1.23.0'
        $installed[0].SignedBy | Should -Be $fingerprint
        $installed[0].BinaryPath | Should -Be '/usr/bin/mount-s3'
        $installed[0].PackageSource | Should -BeLike "$releaseUrl*"
        @($log | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like '*downloading*' }) | Should -Not -BeNullOrEmpty
        (& dpkg-query -W -f '${Status} ${Version}' mount-s3) | Should -Be 'install ok installed 1.23.0'
        (Invoke-Checked mount-s3 @('--version')) | Should -Be 'mount-s3 1.23.0'
        (Get-MountpointS3).InstalledVersion.ToString() | Should -Be '1.23.0'
    }

    It 'Install-MountpointS3 -Version 1.23.0 again: Changed = False, nothing downloaded' {
        $before = Get-NodeSnapshot
        $log = & { $VerbosePreference = 'Continue'; Install-MountpointS3 -Version 1.23.0 } 4>&1
        $again = @($log | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
        $again.Count | Should -Be 1
        $again[0].Changed | Should -BeFalse
        $again[0].InstalledVersion.ToString() | Should -Be '1.23.0'
        @($log | Where-Object { $_.Message -like '*downloading*' }) | Should -BeNullOrEmpty
        Assert-NodeUnchanged $before
    }

    It 'New-S3MountService creates, enables and starts a read-only mount run by ec2-user, with its cache' {
        $created = New-S3MountService -Bucket genomics-ref -Path /fsx/ref -ReadOnly -AllowOther -User ec2-user -CacheDirectory /mnt/nvme/cache/ref
        @($created).Count | Should -Be 1
        $created.Changed | Should -BeTrue
        $created.Name | Should -Be $unit
        $created.UnitPath | Should -Be $unitPath
        $created.Bucket | Should -Be $bucket
        $created.Path | Should -Be $path
        $created.User | Should -Be 'ec2-user'
        $created.Health | Should -Be 'Healthy'
        $created.Mounted | Should -BeTrue
        $created.Enabled | Should -BeTrue
        $created.Options.ReadOnly | Should -BeTrue
        $created.Options.AllowOther | Should -BeTrue
        $created.Options.CacheDirectory | Should -Be $cache

        # systemd: the unit, its enable link, active, as ec2-user.
        Test-Path -LiteralPath $unitPath -PathType Leaf | Should -BeTrue
        (Get-Item -LiteralPath $wantsLink).Target | Should -Be $unitPath
        $u = Get-Unit $unit
        $u.ActiveState | Should -Be 'active'
        $u.UnitFileState | Should -Be 'enabled'
        $u.User | Should -Be 'ec2-user'
        # The kernel: one FUSE mount at the path, from mount-s3, read-only, open to other users.
        $m = @(Get-FuseMount -Path $path)
        $m.Count | Should -Be 1
        $m[0].Source | Should -Be 'mountpoint-s3'
        $m[0].Options | Should -Contain 'ro'
        $m[0].SuperOptions | Should -Contain 'allow_other'
        $m[0].SuperOptions | Should -Contain "user_id=$(Invoke-Checked id @('-u', 'ec2-user'))"
        # Files: directories owned by the service user (never 777), user_allow_other for a non-root -AllowOther.
        (Invoke-Checked stat @('-c', '%U %a', $path)) | Should -Be 'ec2-user 755'
        (Invoke-Checked stat @('-c', '%U %a', $cache)) | Should -Be 'ec2-user 700'
        @(Get-Content -LiteralPath /etc/fuse.conf) | Should -Contain 'user_allow_other'
        # Use: ec2-user reads the object, nobody else may list it (allow_other), nobody may write (read-only).
        (Invoke-Checked runuser @('-u', 'ec2-user', '--', 'cat', "$path/README.txt")) | Should -Be $objectText
        (Invoke-Checked runuser @('-u', 'nobody', '--', 'ls', $path)) | Should -Contain 'README.txt'
        $write = & runuser -u ec2-user -- sh -c "echo x > '$path/new.txt'" 2>&1
        $LASTEXITCODE | Should -Not -Be 0
        "$write" | Should -Match 'Read-only file system'
    }

    It 'New-S3MountService with the same settings again changes nothing' {
        $before = Get-NodeSnapshot
        $again = New-S3MountService -Bucket genomics-ref -Path /fsx/ref -ReadOnly -AllowOther -User ec2-user -CacheDirectory /mnt/nvme/cache/ref
        $again.Changed | Should -BeFalse
        $again.Health | Should -Be 'Healthy'
        Assert-NodeUnchanged $before
    }

    It 'Get-S3MountService shows it, Healthy' {
        $services = Get-S3MountService
        @($services).Count | Should -Be 1
        $services.Name | Should -Be $unit
        $services.Path | Should -Be $path
        $services.Bucket | Should -Be $bucket
        $services.Uri | Should -Be "s3://$bucket/"
        $services.Health | Should -Be 'Healthy'
        $services.ActiveState | Should -Be 'active'
        $services.Origin | Should -Be 'S3Mount'
        $services.Warnings | Should -BeNullOrEmpty
        # Its table view, read at 80 columns (where, path, bucket, health), and the list view with the unit name.
        $table = $services | Out-String -Width 80
        $table | Should -Match "(?m)^$([regex]::Escape($services.ComputerName)) +$([regex]::Escape($path)) +$([regex]::Escape("s3://$bucket/")) +Healthy"
        $table | Should -Not -Match '…'
        $list = $services | Format-List | Out-String -Width 80
        $list | Should -Match "Name +: $([regex]::Escape($unit))"
        $list | Should -Match 'Options +: --read-only --allow-other'
    }

    It 'Test-S3MountService -Quiet is True' {
        $quiet = Test-S3MountService -Quiet
        $quiet | Should -BeOfType [bool]
        $quiet | Should -BeTrue
        $health = Test-S3MountService
        $health.IsHealthy | Should -BeTrue
        $health.Reason | Should -Not -BeNullOrEmpty
    }

    It '-WhatIf on the live mount stops, restarts, disables, repairs, replaces, reinstalls and removes nothing' {
        $before = Get-NodeSnapshot
        $out = @(
            Get-S3MountService -Path /fsx/ref | Stop-S3MountService -WhatIf
            Get-S3MountService -Path /fsx/ref | Restart-S3MountService -WhatIf
            Get-S3MountService -Path /fsx/ref | Disable-S3MountService -WhatIf
            Get-S3MountService -Path /fsx/ref | Repair-S3MountService -Force -WhatIf
            Get-S3MountService -Path /fsx/ref | Remove-S3MountService -Force -RemoveDirectory -WhatIf
            New-S3MountService -Bucket genomics-ref -Path /fsx/ref -AllowOther -User ec2-user -Force -WhatIf
            Install-MountpointS3 -Version 1.22.0 -AllowVersionChange -WhatIf
        )
        $out | Should -BeNullOrEmpty
        Assert-NodeUnchanged $before
    }

    It 'Stop-S3MountService -Path /fsx/ref; Repair-S3MountService: heals it, before and after' {
        $daemonBefore = (Get-Unit $unit).MainPID
        $repairs = & { Stop-S3MountService -Path /fsx/ref; Repair-S3MountService }
        @($repairs).Count | Should -Be 1
        $repairs.Name | Should -Be $unit
        $repairs.Action | Should -Be 'repair'
        $repairs.Before | Should -Be 'NotMounted'
        $repairs.After | Should -Be 'Healthy'
        $u = Get-Unit $unit
        $u.ActiveState | Should -Be 'active'
        $u.MainPID | Should -Not -Be $daemonBefore -Because 'the stop ended the daemon and the repair started a new one'
        @(Get-FuseMount -Path $path).Count | Should -Be 1
    }

    It 'through the pipeline: Get | Stop leaves it NotMounted (Start -WhatIf starts nothing), Get | Repair heals it, a healthy one is left alone' {
        $service = Get-S3MountService -Path /fsx/ref
        $stopped = $service | Stop-S3MountService -PassThru
        $stopped.Name | Should -Be $unit
        $stopped.ActiveState | Should -Be 'inactive'
        $stopped.Mounted | Should -BeFalse
        $stopped.Health | Should -Be 'NotMounted'
        Get-FuseMount -Path $path | Should -BeNullOrEmpty
        (Get-Unit $unit).ActiveState | Should -Be 'inactive'
        (Get-Unit $unit).UnitFileState | Should -Be 'enabled' -Because 'stopping does not disable'
        ($service | Test-S3MountService).Health | Should -Be 'NotMounted'
        Test-S3MountService -Quiet | Should -BeFalse
        $stoppedState = Get-NodeSnapshot
        $service | Start-S3MountService -WhatIf | Should -BeNullOrEmpty
        Assert-NodeUnchanged $stoppedState

        $repaired = Get-S3MountService -Path /fsx/ref | Repair-S3MountService
        $repaired.Before | Should -Be 'NotMounted'
        $repaired.After | Should -Be 'Healthy'
        @(Get-FuseMount -Path $path).Count | Should -Be 1
        Test-S3MountService -Quiet | Should -BeTrue

        $untouched = Get-S3MountService -Path /fsx/ref | Repair-S3MountService
        $untouched.Action | Should -Be 'none'
        $untouched.Before | Should -Be 'Healthy'
    }

    It 'kill -9 of the mount''s daemon: healthy again without any person' {
        $service = Get-S3MountService -Path /fsx/ref
        $restarts = $service.Restarts
        $daemon = [int](Get-Unit $unit).MainPID
        $daemon | Should -BeGreaterThan 0
        $null = Invoke-Checked kill @('-9', "$daemon")
        $seconds = Wait-Until -Seconds 60 -Condition {
            $u = Get-Unit $unit
            $u.ActiveState -eq 'active' -and [int]$u.MainPID -notin 0, $daemon -and (Test-S3MountService -Path /fsx/ref).Health -eq 'Healthy'
        } -State { Get-Unit $unit; Test-S3MountService -Path /fsx/ref }
        Write-Host "healed after kill -9 in $([math]::Round($seconds, 1)) s"
        Test-Path -LiteralPath "/proc/$daemon" | Should -BeFalse
        $after = Get-S3MountService -Path /fsx/ref
        $after.Restarts | Should -Be ($restarts + 1) -Because 'systemd restarted it once'
        $after.Health | Should -Be 'Healthy'
        (Invoke-Checked runuser @('-u', 'ec2-user', '--', 'cat', "$path/README.txt")) | Should -Be $objectText
    }

    It 'Remove-S3MountService asks first: unanswered in a non-interactive session, it removes nothing' {
        $before = Get-NodeSnapshot
        { Remove-S3MountService -Path /fsx/ref -RemoveDirectory } | Should -Throw '*NonInteractive*'
        Assert-NodeUnchanged $before
    }

    It 'Remove-S3MountService -Path /fsx/ref -RemoveDirectory: unit, enable link, mount and directory gone' {
        # The answer to the prompt: yes.
        $PSDefaultParameterValues['Remove-S3MountService:Confirm'] = $false
        try {
            $removed = Remove-S3MountService -Path /fsx/ref -RemoveDirectory
        }
        finally {
            $PSDefaultParameterValues.Remove('Remove-S3MountService:Confirm')
        }
        $removed | Should -BeNullOrEmpty
        Test-Path -LiteralPath $unitPath | Should -BeFalse
        Test-Path -LiteralPath $wantsLink | Should -BeFalse
        Test-Path -LiteralPath $path | Should -BeFalse
        Get-FuseMount -Path $path | Should -BeNullOrEmpty
        (Get-Unit $unit).LoadState | Should -Be 'not-found'
        Get-S3MountService | Should -BeNullOrEmpty
        Test-S3MountService -Quiet | Should -BeFalse -Because 'no mount service is left to answer'
        @(Get-Content -LiteralPath /etc/fuse.conf) | Should -Contain 'user_allow_other' -Because 'Remove leaves fuse.conf alone'
    }
}
