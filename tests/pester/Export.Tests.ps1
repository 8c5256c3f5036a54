#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Export-S3MountBootstrap as users call it: each format, piped objects (Get-S3MountService output, hashtables, objects),
# several mounts, -OutFile with a relative path, errors with their ids and nothing written, -WhatIf, and the upload and
# presign against a loopback S3 server (s3rver).

BeforeAll {
    . (Join-Path $PSScriptRoot 'Shared.ps1')
    Import-Module $ModuleManifest -Force -ErrorAction Stop

    function ConvertFrom-Gzip64([string] $Text) {
        $bytes = [Convert]::FromBase64String($Text)
        $in = [System.IO.Compression.GZipStream]::new([System.IO.MemoryStream]::new($bytes), [System.IO.Compression.CompressionMode]::Decompress)
        $out = [System.IO.MemoryStream]::new()
        $in.CopyTo($out)
        [System.Text.Encoding]::UTF8.GetString($out.ToArray())
    }

    # The unit names of a bootstrap's create steps, in order.
    function Get-Steps([string] $Script) {
        @([regex]::Matches($Script, "(?m)^s3b_step create '(mountpoint-s3-[0-9a-f]{8}\.service)") | ForEach-Object { $_.Groups[1].Value })
    }

    $script:work = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-export-' + [guid]::NewGuid().ToString('N'))
    $null = New-Item -ItemType Directory -Path $work
}

AfterAll {
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
    Remove-Module S3Mount -ErrorAction SilentlyContinue
}

Describe 'Export-S3MountBootstrap formats' {
    It 'Shell: one sh script, to the pipeline as a string' {
        $s = Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -ReadOnly -AllowOther -WarningAction SilentlyContinue
        $s | Should -BeOfType ([string])
        $s | Should -Match '^#!/bin/sh\n'
        $s | Should -Match ([regex]::Escape("s3b_step create 'mountpoint-s3-17a82347.service: s3://my-bucket/ at /mnt/s3, as root' lib create <<'S3MOUNT_STEP_END'"))
        Get-Steps $s | Should -Be 'mountpoint-s3-17a82347.service'
        $s | Should -Match '(?m)^s3b_finish$'
    }

    It 'Shell -Compress: gzip in base64, as EC2 UserData takes it, within 16 KB with four mounts (with an install step: refused)' {
        $mounts = 1..4 | ForEach-Object { @{ Bucket = "data-$_"; Path = "/mnt/data$_"; ReadOnly = $true; AllowOther = $true; CacheDirectory = "/mnt/nvme/cache$_" } }
        { $mounts | Export-S3MountBootstrap -Version 1.23.0 -Compress -ErrorAction Stop } | Should -Throw -ErrorId 'S3MountUserDataTooLarge,*'
        $b64 = $mounts | Export-S3MountBootstrap -Compress -WarningAction SilentlyContinue
        $bytes = [Convert]::FromBase64String($b64)
        $bytes[0..1] | Should -Be 0x1f, 0x8b
        $bytes.Length | Should -BeLessOrEqual 16384
        $text = ConvertFrom-Gzip64 $b64
        $text | Should -Match '^#!/bin/sh\n'
        @(Get-Steps $text).Count | Should -Be 4
        $text | Should -Not -Match '(?m)^s3b_step install'
    }

    It 'CloudConfig: #cloud-config that writes the script and runs it once' {
        $c = ConvertFrom-Gzip64 (Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -Format CloudConfig -Compress)
        $c | Should -Match '^#cloud-config\n'
        $c | Should -Match '(?m)^- path: /var/lib/s3mount/bootstrap\.sh$'
        $c | Should -Match '(?m)^- \[/bin/sh, /var/lib/s3mount/bootstrap\.sh\]$'
    }

    It 'Mime: a multipart document that keeps the NodeConfig it merges with, byte for byte' {
        $nodeConfig = "---`napiVersion: node.eks.aws/v1alpha1`nkind: NodeConfig`nspec:`n  cluster:`n    name: my-cluster`n"
        $m = ConvertFrom-Gzip64 (Export-S3MountBootstrap -Bucket ml-datasets -Path /mnt/datasets -ReadOnly -Format Mime -MergeWith $nodeConfig -Compress)
        $m | Should -Match '^MIME-Version: 1\.0\n'
        $m | Should -Match '(?m)^Content-Type: application/node\.eks\.aws$'
        $m.Contains("Content-Type: application/node.eks.aws`n`n" + $nodeConfig) | Should -BeTrue
        $m | Should -Match 'filename="s3mount-bootstrap\.sh"'
    }

    It 'ParallelCluster: the script to -OutFile, the CustomActions and Iam keys to the pipeline' {
        $file = Join-Path $work 'pcluster.sh'
        $cfg = Export-S3MountBootstrap -Bucket results-bucket -Path /shared/results -AllowDelete -Format ParallelCluster -ScriptUri s3://cluster-assets/s3mount/compute.sh -OutFile $file -WarningAction SilentlyContinue
        $cfg | Should -Match '(?m)^CustomActions:\n  OnNodeConfigured:\n    Script: ''s3://cluster-assets/s3mount/compute\.sh''$'
        $cfg | Should -Match "(?m)^    - BucketName: 'results-bucket'  # mounted read-write at /shared/results$"
        Get-Content -LiteralPath $file -Raw | Should -Match '^#!/bin/sh\n'
    }
}

Describe 'Export-S3MountBootstrap input' {
    BeforeAll {
        $script:root = New-S3MountSandbox
        $null = New-S3MountService -Root $root -Bucket s3://genomics/ref/ -Path '/fsx/ref data' -ReadOnly -AllowOther -User ec2-user -CacheDirectory /mnt/nvme/ref -MaxCacheSizeMiB 4096 -MetadataTtl 300 -WarningAction SilentlyContinue
        $null = New-S3MountService -Root $root -Bucket results -Path /mnt/results -AllowDelete -Uid 1000 -Gid 1000 -ExtraArgument '--future-flag' -Environment 'HTTPS_PROXY=http://proxy:3128' -WarningAction SilentlyContinue
    }

    AfterAll { Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction SilentlyContinue }

    It 'Get-S3MountService output gives the same bootstrap as the same mounts given as parameters' {
        $piped = Get-S3MountService -Root $root | Sort-Object Path | Export-S3MountBootstrap -WarningAction SilentlyContinue
        $direct = @(
            @{ Bucket = 's3://genomics/ref/'; Path = '/fsx/ref data'; ReadOnly = $true; AllowOther = $true; User = 'ec2-user'; CacheDirectory = '/mnt/nvme/ref'; MaxCacheSizeMiB = 4096; MetadataTtl = '300' }
            @{ Bucket = 'results'; Path = '/mnt/results'; AllowDelete = $true; Uid = 1000; Gid = 1000; ExtraArgument = '--future-flag'; Environment = 'HTTPS_PROXY=http://proxy:3128' }
        ) | Export-S3MountBootstrap -WarningAction SilentlyContinue
        $piped | Should -BeExactly $direct
        @(Get-Steps $piped).Count | Should -Be 2
    }

    It 'a listed mount''s health check interval comes along, as New-S3MountService takes it from the same object' {
        $img = New-S3MountSandbox
        try {
            $null = New-S3MountService -Root $img -Bucket results -Path /mnt/results -HealthCheckIntervalSeconds 120 -WarningAction SilentlyContinue
            $piped = Get-S3MountService -Root $img | Export-S3MountBootstrap -WarningAction SilentlyContinue
            $piped | Should -BeExactly (Export-S3MountBootstrap -Bucket results -Path /mnt/results -HealthCheckIntervalSeconds 120 -WarningAction SilentlyContinue)
            $piped | Should -Match "HEALTH_INTERVAL='120'"
        }
        finally { Remove-Item -LiteralPath $img -Recurse -Force -ErrorAction SilentlyContinue }
    }

    It 'a field one piped object has does not carry over to the next' {
        $two = [pscustomobject]@{ Bucket = 'aaa-bucket'; Path = '/mnt/a'; ReadOnly = $true; Prefix = 'p/' }, [pscustomobject]@{ Bucket = 'bbb-bucket'; Path = '/mnt/b' } |
            Export-S3MountBootstrap -WarningAction SilentlyContinue
        $alone = Export-S3MountBootstrap -Bucket bbb-bucket -Path /mnt/b -WarningAction SilentlyContinue
        $b = ($alone -split "`n" | Where-Object { $_ -like 'ExecStart=/usr/bin/mount-s3 *' })
        ($two -split "`n" | Where-Object { $_ -like 'ExecStart=/usr/bin/mount-s3 *' })[1] | Should -BeExactly $b
    }

    It 'command-line mount parameters override that field of every piped mount' {
        $s = @{ Bucket = 'one-bucket'; Path = '/mnt/one' }, @{ Bucket = 'two-bucket'; Path = '/mnt/two' } | Export-S3MountBootstrap -ReadOnly -User ec2-user -WarningAction SilentlyContinue
        @($s -split "`n" | Where-Object { $_ -like 'ExecStart=*--read-only*' }).Count | Should -Be 2
        @($s -split "`n" | Where-Object { $_ -eq 'User=ec2-user' }).Count | Should -Be 2
    }

    It 'an install-only bootstrap has no create step' {
        $install = Export-S3MountBootstrap -Install -WarningAction SilentlyContinue
        @(Get-Steps $install).Count | Should -Be 0
        $install | Should -Match "(?m)^s3b_step install 'install mount-s3 \(latest\) from"
    }
}

Describe 'Export-S3MountBootstrap errors' {
    It 'the piped mounts are read as a mount map: every problem listed with its place, then nothing is written' {
        $file = Join-Path $work 'refused.sh'
        $thrown = $null
        try { @{ Bucket = 'good-bucket'; Path = '/mnt/good' }, @{ Bucket = 'Bad_Bucket'; Path = '/mnt/bad' }, @{ Bucket = 'a-bucket'; Path = '/mnt/a'; ReadOnyl = $true } |
                Export-S3MountBootstrap -OutFile $file -ErrorAction Stop }
        catch { $thrown = $_ }
        $thrown.FullyQualifiedErrorId | Should -BeLike 'S3MountMapInvalid,*'
        $thrown.Exception.Message | Should -Match 'input object 2.*\(S3MountBucketInvalid\)'
        $thrown.Exception.Message | Should -Match "input object 3.*'ReadOnyl' is not a field of a mount.*\(S3MountFieldUnknown\)"
        $thrown.Exception.Problems.Count | Should -Be 2
        $file | Should -Not -Exist
    }

    It 'reads a mount map file, as Sync-S3MountService does' {
        $map = Join-Path $work 'cluster.psd1'
        Set-Content -LiteralPath $map -Value "@{ Defaults = @{ AllowOther = `$true }; Mounts = @( @{ Bucket = 'map-one'; Path = '/mnt/one'; ReadOnly = `$true }, @{ Bucket = 'map-two'; Path = '/mnt/two' } ) }"
        $s = Export-S3MountBootstrap -MapPath $map -WarningAction SilentlyContinue
        @(Get-Steps $s).Count | Should -Be 2
        @($s -split "`n" | Where-Object { $_ -like 'ExecStart=*--allow-other*' }).Count | Should -Be 2
        { Export-S3MountBootstrap -MapPath $map -Bucket x-bucket -Path /mnt/x } | Should -Throw -ErrorId 'S3MountParameterConflict,*'
        { Export-S3MountBootstrap -MapPath (Join-Path $work 'no-such-map.psd1') } | Should -Throw -ErrorId 'S3MountMapNotFound,*'
    }

    It 'refuses <What> with <Id>' -ForEach @(
        @{ What = 'nothing to export'; Id = 'S3MountBootstrapEmpty'; Run = { Export-S3MountBootstrap } }
        @{ What = 'credentials in the environment'; Id = 'S3MountBootstrapSecretRefused'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Environment 'AWS_SECRET_ACCESS_KEY=x' } }
        @{ What = 'two mounts of one path'; Id = 'S3MountMapInvalid'; Run = { @{ Bucket = 'a-bucket'; Path = '/mnt/a' }, @{ Bucket = 'b-bucket'; Path = '/mnt/a' } | Export-S3MountBootstrap } }
        @{ What = 'a mount inside another'; Id = 'S3MountMapInvalid'; Run = { @{ Bucket = 'a-bucket'; Path = '/mnt/a' }, @{ Bucket = 'b-bucket'; Path = '/mnt/a/b' } | Export-S3MountBootstrap } }
        @{ What = '-MergeWith without -Format Mime'; Id = 'S3MountParameterConflict'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -MergeWith '#!/bin/sh' } }
        @{ What = 'ParallelCluster with nowhere for the script'; Id = 'S3MountParameterConflict'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format ParallelCluster -ScriptUri s3://a-b/c.sh } }
        @{ What = 'a ParallelCluster script location that is not s3:// or https://'; Id = 'S3MountScriptUriInvalid'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format ParallelCluster -ScriptUri ftp://x/y -OutFile ./x.sh } }
        @{ What = 'user data over 16 KB'; Id = 'S3MountUserDataTooLarge'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Install -Format CloudConfig } }
        @{ What = 'user data it cannot merge with'; Id = 'S3MountUserDataInvalid'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format Mime -MergeWith 'some text' } }
        @{ What = 'a plain http package URL'; Id = 'S3MountSourceInvalid'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -PackageUrl http://example.com/mount-s3.deb } }
    ) {
        { & $Run } | Should -Throw -ErrorId "$Id,*"
    }

    It 'a presigned package needs a stated lifetime, and a lifetime needs a presigned package' {
        { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -PackageS3Uri s3://pkg-bucket/mount-s3.deb } | Should -Throw -ErrorId 'S3MountParameterConflict,*'
        { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Version 1.23.0 -PresignedUrlLifetime 01:00:00 } | Should -Throw -ErrorId 'S3MountParameterConflict,*'
    }

    It 'two package sources are refused as Install-MountpointS3 refuses them, and a package path is the node''s' {
        { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -PackageUrl https://example.com/m.deb -DistributionRepository } | Should -Throw -ErrorId 'S3MountParameterConflict,*'
        { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -PackagePath ./relative.deb } | Should -Throw -ErrorId 'S3MountPathInvalid,*'
    }
}

Describe 'Export-S3MountBootstrap -OutFile and -WhatIf' {
    It 'writes to a path relative to the current location, and nothing to the pipeline' {
        Push-Location $work
        try {
            $out = Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -Format CloudConfig -Compress -OutFile ./sub-relative.yaml.gz
            $out | Should -BeNullOrEmpty
            $file = Join-Path $work 'sub-relative.yaml.gz'
            $file | Should -Exist
            $bytes = [System.IO.File]::ReadAllBytes($file)
            (ConvertFrom-Gzip64 ([Convert]::ToBase64String($bytes))) | Should -Match '^#cloud-config\n'
        }
        finally { Pop-Location }
    }

    It 'resolves ~ and PowerShell drives like New-Item' {
        $null = New-PSDrive -Name S3MExport -PSProvider FileSystem -Root $work
        try {
            Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -OutFile S3MExport:/on-a-drive.sh -WarningAction SilentlyContinue
            Join-Path $work 'on-a-drive.sh' | Should -Exist
        }
        finally { Remove-PSDrive -Name S3MExport }
    }

    It '-WhatIf writes no file and uploads nothing' {
        $file = Join-Path $work 'whatif.sh'
        Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -OutFile $file -WhatIf -WarningAction SilentlyContinue | Should -BeNullOrEmpty
        $file | Should -Not -Exist
        $cfg = Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -Format ParallelCluster -ScriptUri s3://no-such-bucket-s3mount/x.sh -Upload -WhatIf -WarningAction SilentlyContinue
        $cfg | Should -Match 'OnNodeConfigured'
    }

    It 'a missing parent directory is an error with its id and no file' {
        $file = Join-Path $work 'missing/dir/x.sh'
        { Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -OutFile $file -ErrorAction Stop -WarningAction SilentlyContinue } | Should -Throw -ErrorId 'S3MountOutFileFailed,*'
        Join-Path $work 'missing' | Should -Not -Exist
    }
}

Describe 'Export-S3MountBootstrap against a loopback S3 server' {
    BeforeAll {
        $script:s3 = Start-TestS3 -Buckets 'cluster-assets', 'pkg-bucket'
    }

    AfterAll { Stop-TestS3 $s3 }

    It 'uploads the ParallelCluster script with AWSSDK.S3' {
        if (-not $s3) { Set-ItResult -Skipped -Because 'node and npm (s3rver) are not installed here'; return }
        $aws = @{ EndpointUrl = $s3.Endpoint; Region = 'us-east-1'; AccessKey = 'S3RVER'; SecretKey = 'S3RVER' }
        $cfg = Export-S3MountBootstrap -Bucket results-bucket -Path /shared/results -Install -Format ParallelCluster -ScriptUri s3://cluster-assets/s3mount/compute.sh -Upload @aws -WarningAction SilentlyContinue
        $cfg | Should -Match "(?m)^    - BucketName: 'cluster-assets'  # the bootstrap script$"
        $uploaded = (Invoke-WebRequest -Uri "$($s3.Endpoint)/cluster-assets/s3mount/compute.sh" -UseBasicParsing).Content
        if ($uploaded -is [byte[]]) { $uploaded = [System.Text.Encoding]::UTF8.GetString($uploaded) }
        $file = Join-Path $work 'compare.sh'
        Export-S3MountBootstrap -Bucket results-bucket -Path /shared/results -Install -Format ParallelCluster -ScriptUri s3://cluster-assets/s3mount/compute.sh -OutFile $file -WarningAction SilentlyContinue | Out-Null
        $uploaded | Should -BeExactly (Get-Content -LiteralPath $file -Raw)
    }

    It 'presigns an s3:// package for the stated lifetime, says so in a comment and a warning, and carries no secret' {
        if (-not $s3) { Set-ItResult -Skipped -Because 'node and npm (s3rver) are not installed here'; return }
        $warnings = $null
        $s = Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -PackageS3Uri s3://pkg-bucket/mount-s3-1.23.0-x86_64.deb -PresignedUrlLifetime (New-TimeSpan -Days 2) `
            -EndpointUrl $s3.Endpoint -Region us-east-1 -AccessKey S3RVER -SecretKey 'not/in/the/artifact' -WarningVariable warnings -WarningAction SilentlyContinue
        $s | Should -Match '(?m)^# The install step downloads s3://pkg-bucket/mount-s3-1\.23\.0-x86_64\.deb through presigned URLs that anyone holding this script can use, until 20\d\d-'
        $s | Should -Match "PKG_URL='http://127\.0\.0\.1:\d+/pkg-bucket/mount-s3-1\.23\.0-x86_64\.deb\?[^']*X-Amz-Expires=172800"
        $s | Should -Match "SIG_URL='http://127\.0\.0\.1:\d+/pkg-bucket/mount-s3-1\.23\.0-x86_64\.deb\.asc\?"
        $s | Should -Not -Match 'not/in/the/artifact'
        ($warnings -join ' ') | Should -Match 'presigned URLs of s3://pkg-bucket/mount-s3-1\.23\.0-x86_64\.deb'
        $s | Should -Match ([regex]::Escape("s3b_step install 'install mount-s3 (the package'\''s version) from s3://pkg-bucket/mount-s3-1.23.0-x86_64.deb (presigned), signature checked' lib mountpoint install"))
    }

    It 'without an s3:// package the artifact has no signed URL at all' {
        Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -Version 1.23.0 -WarningAction SilentlyContinue | Should -Not -Match 'X-Amz-'
    }
}
