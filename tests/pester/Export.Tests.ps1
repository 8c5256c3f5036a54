#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Export-S3MountBootstrap as users call it: each format, piped objects (Get-S3MountService output, hashtables, objects),
# several mounts, -OutFile with a relative path, errors with their ids and nothing written, -WhatIf, and the upload and
# presign against a loopback S3 server (s3rver). -ScriptUri loaders: the sizes, the pins, the script file, and the
# loader run under dash against s3rver and a one-shot local HTTP server (never against the real bootstrap: the
# downloads the test lets it run are its own harmless script).

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

    # The loader a user data document carries, as the node gets it: Shell is the loader; CloudConfig writes it from
    # write_files (gz+b64, or a literal block when the whole document is compressed); Mime has it as its
    # s3mount-bootstrap-loader.sh part (application/gzip in base64, or text/x-shellscript when compressed).
    function Get-CarriedLoader([string] $Format, [byte[]] $Bytes, [switch] $Compressed) {
        $text = [System.Text.Encoding]::UTF8.GetString($(if ($Compressed) { [S3Mount.Engine.Bootstrap.BootstrapArtifact]::Gunzip($Bytes) } else { $Bytes }))
        switch ($Format) {
            'Shell' { return $text }
            'CloudConfig' {
                if ($text -match '(?m)^- path: /var/lib/s3mount/bootstrap-loader\.sh\n  owner: root:root\n  permissions: ''0700''\n  encoding: gz\+b64\n  content: ([A-Za-z0-9+/=]+)\n') { return ConvertFrom-Gzip64 $Matches[1] }
                if ($text -match '(?ms)^- path: /var/lib/s3mount/bootstrap-loader\.sh\n  owner: root:root\n  permissions: ''0700''\n  content: \|[+-]?\n(.*?)^runcmd:\n') {
                    return (($Matches[1] -split "`n") | ForEach-Object { $_ -replace '^   ', '' }) -join "`n"
                }
                throw "no loader in the cloud-config:`n$text"
            }
            'Mime' {
                if ($text -notmatch '(?ms)^Content-Type: (?<type>[^\n;]+)[^\n]*\n(?:Content-Transfer-Encoding: base64\n)?Content-Disposition: attachment; filename="s3mount-bootstrap-loader\.sh"\n[^\n]*\n\n(?<body>.*?)\n--S3MOUNT-BOOTSTRAP-PART') {
                    throw "no loader part in the MIME document:`n$text"
                }
                if ($Matches.type -eq 'application/gzip') { return ConvertFrom-Gzip64 ($Matches.body -replace '\s', '') }
                return $Matches.body
            }
        }
    }

    # The user data bytes of what Export-S3MountBootstrap wrote to the pipeline (base64 when compressed, else text).
    function Get-UserDataBytes($Output, [switch] $Compressed) {
        if ($Compressed) { return , [Convert]::FromBase64String($Output) }
        , [System.Text.Encoding]::UTF8.GetBytes($Output)
    }

    function Get-Sha256Hex([byte[]] $Bytes) { [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData($Bytes)).ToLowerInvariant() }

    # The loader text with S3L_SAVE at a test path: a loader run here must never write the node's /var/lib/s3mount.
    function Set-LoaderSave([string] $Loader, [string] $Path) {
        $changed = $Loader -replace "(?m)^S3L_SAVE='/var/lib/s3mount/bootstrap\.sh'$", "S3L_SAVE='$Path'"
        if ($changed -ceq $Loader -or $changed -match '/var/lib/s3mount') { throw "S3L_SAVE could not be moved to $Path" }
        $changed
    }

    # Starts a loader under dash: the environment without AWS credentials but those given, TMPDIR, and a PATH whose
    # logger and systemd-cat append to <dir>/journal (what it would send to the journal, and nothing to this host's).
    function Start-Loader([string] $Loader, [string] $Dir, [hashtable] $Environment = @{}) {
        $bin = Join-Path $Dir 'bin'
        $tmp = Join-Path $Dir 'tmp'
        $null = New-Item -ItemType Directory -Path $bin, $tmp -Force
        $journal = Join-Path $Dir 'journal'
        [System.IO.File]::WriteAllText((Join-Path $bin 'logger'), "#!/bin/sh`nprintf 'logger %s\n' ""`$*"" >>'$journal'`n")
        [System.IO.File]::WriteAllText((Join-Path $bin 'systemd-cat'), "#!/bin/sh`n{ printf 'systemd-cat %s: ' ""`$*""; cat; } >>'$journal'`n")
        & chmod 0755 (Join-Path $bin 'logger') (Join-Path $bin 'systemd-cat')
        $file = Join-Path $Dir 'loader.sh'
        [System.IO.File]::WriteAllText($file, $Loader)
        $psi = [System.Diagnostics.ProcessStartInfo]::new('dash')
        $psi.ArgumentList.Add($file)
        $psi.UseShellExecute = $false
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        foreach ($k in 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_EC2_METADATA_SERVICE_ENDPOINT', 'JOURNAL_STREAM', 'S3L_NOW') { $null = $psi.Environment.Remove($k) }
        $psi.Environment['PATH'] = "$bin`:$env:PATH"
        $psi.Environment['TMPDIR'] = $tmp
        foreach ($k in $Environment.Keys) { $psi.Environment[$k] = $Environment[$k] }
        $process = [System.Diagnostics.Process]::Start($psi)
        [pscustomobject]@{ Process = $process; Out = $process.StandardOutput.ReadToEndAsync(); Err = $process.StandardError.ReadToEndAsync(); Journal = $journal; Tmp = $tmp; Watch = [System.Diagnostics.Stopwatch]::StartNew() }
    }

    function Complete-Loader($Run, [string] $What) {
        if (-not $Run.Process.WaitForExit(120000)) { $Run.Process.Kill($true); throw 'the loader did not finish within 120 s' }
        Write-Host ("    TIMING loader run ({0}): {1:0.00} s" -f $What, $Run.Watch.Elapsed.TotalSeconds)
        [pscustomobject]@{
            ExitCode = $Run.Process.ExitCode; StdOut = $Run.Out.GetAwaiter().GetResult(); StdErr = $Run.Err.GetAwaiter().GetResult()
            Journal  = if (Test-Path -LiteralPath $Run.Journal) { Get-Content -LiteralPath $Run.Journal -Raw } else { '' }
            TmpLeft  = @(Get-ChildItem -LiteralPath $Run.Tmp -Force)
        }
    }

    # A one-shot HTTP server on 127.0.0.1 (what the loader downloads from, with the request it got).
    function Start-OneShotHttp {
        $probe = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $probe.Start(); $port = $probe.LocalEndpoint.Port; $probe.Stop()
        $listener = [System.Net.HttpListener]::new()
        $listener.Prefixes.Add("http://127.0.0.1:$port/")
        $listener.Start()
        [pscustomobject]@{ Listener = $listener; Url = "http://127.0.0.1:$port"; Pending = $listener.GetContextAsync() }
    }

    # Answers the one request (within 60 s) with the status and body; returns its method, raw path and headers.
    function Complete-OneShotHttp($Server, [int] $Status, [byte[]] $Body) {
        try {
            if (-not $Server.Pending.Wait(60000)) { throw 'no request reached the test server within 60 s' }
            $ctx = $Server.Pending.Result
            $headers = @{}
            foreach ($k in $ctx.Request.Headers.AllKeys) { $headers[$k.ToLowerInvariant()] = $ctx.Request.Headers[$k] }
            $ctx.Response.StatusCode = $Status
            $ctx.Response.ContentLength64 = $Body.Length
            $ctx.Response.OutputStream.Write($Body, 0, $Body.Length)
            $ctx.Response.Close()
            [pscustomobject]@{ Method = $ctx.Request.HttpMethod; RawUrl = $ctx.Request.RawUrl; Headers = $headers }
        }
        finally { $Server.Listener.Close() }
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

Describe 'Export-S3MountBootstrap -ScriptUri (a loader)' {
    BeforeAll {
        # Four mounts with an install step: 19-20 KB gzip-compressed self-contained, over EC2's 16 KB.
        $script:mounts = 1..4 | ForEach-Object { @{ Bucket = "data-$_"; Path = "/mnt/data$_"; ReadOnly = $true; AllowOther = $true; CacheDirectory = "/mnt/nvme/cache$_" } }
        $script:uri = 'https://assets.example.com/s3mount/boot.sh'
        $script:loaderDir = Join-Path $work 'loader'
        $null = New-Item -ItemType Directory -Path $loaderDir
        Push-Location $loaderDir
        try { $script:shellLoader = $mounts | Export-S3MountBootstrap -Version 1.23.0 -ScriptUri $uri -ScriptOutFile ./boot.sh }
        finally { Pop-Location }
        $script:selfContained = $mounts | Export-S3MountBootstrap -Version 1.23.0 -WarningAction SilentlyContinue
    }

    It 'self-contained, four mounts with an install step are refused as <Format> -Compress, and the message names -ScriptUri' -ForEach @(
        @{ Format = 'CloudConfig' }, @{ Format = 'Mime' }
    ) {
        $thrown = $null
        try { $mounts | Export-S3MountBootstrap -Version 1.23.0 -Format $Format -Compress -ErrorAction Stop } catch { $thrown = $_ }
        $thrown.FullyQualifiedErrorId | Should -BeLike 'S3MountUserDataTooLarge,*'
        $thrown.Exception.Message | Should -Match "The $Format user data of 4 mount\(s\) with an install step is [0-9,]+ bytes gzip-compressed; EC2 takes at most 16,384 bytes"
        $thrown.Exception.Message | Should -Match '-ScriptUri'
    }

    It 'as a loader they fit in <Format><Label>, and it carries the same loader as -Format Shell' -ForEach @(
        @{ Format = 'Shell'; Compress = $false; Label = '' }
        @{ Format = 'Shell'; Compress = $true; Label = ' -Compress' }
        @{ Format = 'CloudConfig'; Compress = $false; Label = '' }
        @{ Format = 'CloudConfig'; Compress = $true; Label = ' -Compress' }
        @{ Format = 'Mime'; Compress = $false; Label = '' }
        @{ Format = 'Mime'; Compress = $true; Label = ' -Compress' }
    ) {
        Push-Location $loaderDir
        try { $out = $mounts | Export-S3MountBootstrap -Version 1.23.0 -Format $Format -Compress:$Compress -ScriptUri $uri -ScriptOutFile ./boot.sh }
        finally { Pop-Location }
        $bytes = Get-UserDataBytes $out -Compressed:$Compress
        Write-Host ("    TIMING size of the {0}{1} loader user data: {2:N0} bytes" -f $Format, $Label, $bytes.Length)
        $bytes.Length | Should -BeLessOrEqual 16384
        if ($Compress) { $bytes[0..1] | Should -Be 0x1f, 0x8b }
        $loader = Get-CarriedLoader $Format $bytes -Compressed:$Compress
        $loader | Should -Match '^#!/bin/sh\n'
        $loader | Should -Match ([regex]::Escape("S3L_URI='$uri'"))
        # The same program in every document (a compressed CloudConfig's literal block drops the loader's last, empty line).
        $loader.TrimEnd("`n") | Should -BeExactly $shellLoader.TrimEnd("`n")
    }

    It 'CloudConfig writes the loader to /var/lib/s3mount/bootstrap-loader.sh and runs it; Mime names its part s3mount-bootstrap-loader.sh' {
        Push-Location $loaderDir
        try {
            $c = Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -Format CloudConfig -ScriptUri $uri -ScriptOutFile ./one.sh
            $m = Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -Format Mime -ScriptUri $uri -ScriptOutFile ./one.sh
        }
        finally { Pop-Location }
        $c | Should -Match '(?m)^- path: /var/lib/s3mount/bootstrap-loader\.sh$'
        $c | Should -Match '(?m)^- \[/bin/sh, /var/lib/s3mount/bootstrap-loader\.sh\]$'
        $c | Should -Not -Match '(?m)^- path: /var/lib/s3mount/bootstrap\.sh$'
        $m | Should -Match 'filename="s3mount-bootstrap-loader\.sh"'
        $m | Should -Not -Match 'filename="s3mount-bootstrap\.sh"'
    }

    It 'the -ScriptOutFile file is the self-contained Shell script of the same mounts, and the loader pins its SHA-256, size and location' {
        Push-Location $loaderDir
        try { $null = $mounts | Export-S3MountBootstrap -Version 1.23.0 -Format Mime -Compress -ScriptUri $uri -ScriptOutFile ./pinned.sh -OutFile ./pinned.mime.gz }
        finally { Pop-Location }
        $file = Join-Path $loaderDir 'pinned.sh'
        $fileBytes = [System.IO.File]::ReadAllBytes($file)
        Get-Sha256Hex $fileBytes | Should -Be (Get-Sha256Hex ([System.Text.Encoding]::UTF8.GetBytes($selfContained)))
        [System.Text.Encoding]::UTF8.GetString($fileBytes) | Should -BeExactly $selfContained
        @(Get-Steps $selfContained).Count | Should -Be 4
        $loader = Get-CarriedLoader Mime ([System.IO.File]::ReadAllBytes((Join-Path $loaderDir 'pinned.mime.gz'))) -Compressed
        $hash = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash.ToLowerInvariant()
        $loader | Should -Match "(?m)^S3L_SHA256='$hash'$"
        $loader | Should -Match "(?m)^S3L_SIZE='$($fileBytes.Length)'$"
        $loader | Should -Match "(?m)^S3L_URI='$([regex]::Escape($uri))'$"
        $loader | Should -Match "(?m)^S3L_URL='$([regex]::Escape($uri))'$"
        $loader | Should -Match "(?m)^S3L_REGION=''$"
        # The loader carries the script's step list in its comments, not the steps.
        @(Get-Steps $loader).Count | Should -Be 0
        $loader | Should -Match '(?m)^#   2\. mountpoint-s3-[0-9a-f]{8}\.service: s3://data-1/ at /mnt/data1, as root$'
    }

    It 'the loader is shellcheck clean and parses in dash (<Kind>)' -ForEach @(
        @{ Kind = 'https://'; Arguments = @{ ScriptUri = 'https://assets.example.com/s3mount/boot.sh' } }
        @{ Kind = 's3:// with -Region'; Arguments = @{ ScriptUri = 's3://cluster-assets/s3mount/boot.sh'; Region = 'eu-west-1' } }
        @{ Kind = 's3:// at an -EndpointUrl, a key with a space'; Arguments = @{ ScriptUri = 's3://cluster-assets/s3mount/boot v2+x.sh'; Region = 'us-east-1'; EndpointUrl = 'http://127.0.0.1:9000' } }
    ) {
        Push-Location $loaderDir
        try { $loader = $mounts | Export-S3MountBootstrap -Version 1.23.0 @Arguments -ScriptOutFile ./checked.sh }
        finally { Pop-Location }
        $loader | Should -Match '^#!/bin/sh\n'
        $lint = $loader | & shellcheck -s sh - 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($lint -join "`n")
        $parse = $loader | & dash -n 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($parse -join "`n")
    }

    It 'an s3:// location is fetched from <Url>' -ForEach @(
        @{ ScriptUri = 's3://cluster-assets/s3mount/boot.sh'; Region = 'eu-west-1'; EndpointUrl = $null; Url = 'https://cluster-assets.s3.eu-west-1.amazonaws.com/s3mount/boot.sh' }
        @{ ScriptUri = 's3://my.dotted.bucket/boot.sh'; Region = 'us-east-2'; EndpointUrl = $null; Url = 'https://s3.us-east-2.amazonaws.com/my.dotted.bucket/boot.sh' }
        @{ ScriptUri = 's3://cn-assets/boot.sh'; Region = 'cn-north-1'; EndpointUrl = $null; Url = 'https://cn-assets.s3.cn-north-1.amazonaws.com.cn/boot.sh' }
        @{ ScriptUri = 's3://cluster-assets/s3mount/boot v2+x.sh'; Region = 'us-east-1'; EndpointUrl = 'https://s3.vpce.example.com/'; Url = 'https://s3.vpce.example.com/cluster-assets/s3mount/boot%20v2%2Bx.sh' }
    ) {
        Push-Location $loaderDir
        try { $loader = Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -ScriptUri $ScriptUri -Region $Region -EndpointUrl $EndpointUrl -ScriptOutFile ./where.sh }
        finally { Pop-Location }
        $loader | Should -Match "(?m)^S3L_URL='$([regex]::Escape($Url))'$"
        $loader | Should -Match "(?m)^S3L_REGION='$Region'$"
        $loader | Should -Match "(?m)^S3L_URI='$([regex]::Escape($ScriptUri))'$"
    }

    It 'an s3:// loader signs for -Region, else $StoredAWSRegion, else AWS_REGION, else AWS_DEFAULT_REGION' {
        $saved = @{ AWS_REGION = $env:AWS_REGION; AWS_DEFAULT_REGION = $env:AWS_DEFAULT_REGION }
        $hadStored = Test-Path Variable:\global:StoredAWSRegion
        $stored = if ($hadStored) { $global:StoredAWSRegion }
        Push-Location $loaderDir
        try {
            function Get-SignedRegion([hashtable] $More = @{}) {
                $l = Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -ScriptUri s3://cluster-assets/boot.sh -ScriptOutFile ./region.sh @More -ErrorAction Stop
                if ($l -match "(?m)^S3L_REGION='([^']*)'$") { $Matches[1] }
            }
            $env:AWS_DEFAULT_REGION = 'ap-south-1'
            $env:AWS_REGION = $null
            Remove-Variable -Name StoredAWSRegion -Scope Global -ErrorAction SilentlyContinue
            Get-SignedRegion | Should -Be 'ap-south-1'
            $env:AWS_REGION = 'eu-central-1'
            Get-SignedRegion | Should -Be 'eu-central-1'
            $global:StoredAWSRegion = 'us-west-2'
            Get-SignedRegion | Should -Be 'us-west-2'
            Get-SignedRegion @{ Region = 'sa-east-1' } | Should -Be 'sa-east-1'
        }
        finally {
            Pop-Location
            foreach ($k in $saved.Keys) { [System.Environment]::SetEnvironmentVariable($k, $saved[$k]) }
            if ($hadStored) { $global:StoredAWSRegion = $stored } else { Remove-Variable -Name StoredAWSRegion -Scope Global -ErrorAction SilentlyContinue }
        }
    }

    It 'the loader signs its s3:// GET with SigV4 as S3 computes it, with the keys and session token of the environment, and reports S3''s refusal' {
        $server = Start-OneShotHttp
        $key = 's3mount/boot v2+x.sh'
        Push-Location $loaderDir
        try { $loader = Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -ScriptUri "s3://cluster-assets/$key" -Region eu-west-3 -EndpointUrl $server.Url -ScriptOutFile ./signed.sh }
        finally { Pop-Location }
        $dir = Join-Path $work 'signed-run'
        $save = Join-Path $dir 'save/bootstrap.sh'
        $secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
        $token = 'IQoJb3JpZ2luX2VjEXAMPLE/token+with=odd/characters'
        $run = Start-Loader (Set-LoaderSave $loader $save) $dir @{ AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE'; AWS_SECRET_ACCESS_KEY = $secret; AWS_SESSION_TOKEN = $token }
        $denied = [System.Text.Encoding]::UTF8.GetBytes('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>')
        $request = Complete-OneShotHttp $server 403 $denied
        $result = Complete-Loader $run 'signed GET, refused'

        # What S3 checks: the canonical request of this GET, signed with the key derived from the secret for the day, Region and s3.
        $path = '/cluster-assets/' + (($key -split '/' | ForEach-Object { [Uri]::EscapeDataString($_) }) -join '/')
        $request.Method | Should -Be 'GET'
        $request.RawUrl | Should -BeExactly $path
        $amzDate = $request.Headers['x-amz-date']
        $amzDate | Should -Match '^\d{8}T\d{6}Z$'
        [datetime]::ParseExact($amzDate, "yyyyMMdd'T'HHmmss'Z'", $null, 'AssumeUniversal,AdjustToUniversal') | Should -BeGreaterThan ([datetime]::UtcNow.AddMinutes(-5))
        $emptyHash = Get-Sha256Hex ([byte[]]@())
        $request.Headers['x-amz-content-sha256'] | Should -BeExactly $emptyHash
        $request.Headers['x-amz-security-token'] | Should -BeExactly $token
        $signedHeaders = 'host;x-amz-content-sha256;x-amz-date;x-amz-security-token'
        $canonical = "GET`n$path`n`nhost:$($request.Headers['host'])`nx-amz-content-sha256:$emptyHash`nx-amz-date:$amzDate`nx-amz-security-token:$token`n`n$signedHeaders`n$emptyHash"
        $day = $amzDate.Substring(0, 8)
        $scope = "$day/eu-west-3/s3/aws4_request"
        $toSign = "AWS4-HMAC-SHA256`n$amzDate`n$scope`n" + (Get-Sha256Hex ([System.Text.Encoding]::UTF8.GetBytes($canonical)))
        $k = [System.Text.Encoding]::UTF8.GetBytes("AWS4$secret")
        foreach ($part in $day, 'eu-west-3', 's3', 'aws4_request') { $k = [System.Security.Cryptography.HMACSHA256]::HashData($k, [System.Text.Encoding]::UTF8.GetBytes($part)) }
        $signature = [Convert]::ToHexString([System.Security.Cryptography.HMACSHA256]::HashData($k, [System.Text.Encoding]::UTF8.GetBytes($toSign))).ToLowerInvariant()
        $request.Headers['authorization'] | Should -BeExactly "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/$scope, SignedHeaders=$signedHeaders, Signature=$signature"

        $result.ExitCode | Should -Be 1
        $result.StdErr | Should -Match ([regex]::Escape("s3mount-bootstrap: FAILED: could not download s3://cluster-assets/$key (HTTP 403, AccessDenied); nothing was run."))
        $result.StdOut | Should -BeNullOrEmpty
        $result.Journal | Should -Match 'FAILED: could not download'
        $result.Journal | Should -Not -Match ([regex]::Escape($secret))
        $result.TmpLeft | Should -BeNullOrEmpty
        Join-Path $dir 'save' | Should -Not -Exist
    }

    It 'a loader whose pins are rewritten to a harmless script downloads it over http://127.0.0.1, keeps it 0700, runs it with stdin closed and exits with its status' {
        # The real bootstrap would install on this host: the test serves its own script and pins that one instead.
        $server = Start-OneShotHttp
        Push-Location $loaderDir
        try { $loader = Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -ScriptUri "$($server.Url)/assets/boot.sh" -ScriptOutFile ./plain.sh }
        finally { Pop-Location }
        $loader | Should -Match "(?m)^S3L_REGION=''$"
        $harmless = [System.Text.Encoding]::UTF8.GetBytes("#!/bin/sh`nif read -r line; then echo 'stdin was open'; fi`necho ""harmless script ran as `$0""`nexit 7`n")
        $pinned = $loader -replace "(?m)^S3L_SHA256='[0-9a-f]{64}'$", "S3L_SHA256='$(Get-Sha256Hex $harmless)'" -replace "(?m)^S3L_SIZE='\d+'$", "S3L_SIZE='$($harmless.Length)'"
        $pinned | Should -Match "(?m)^S3L_SHA256='$(Get-Sha256Hex $harmless)'$"
        $dir = Join-Path $work 'plain-run'
        $save = Join-Path $dir 'save/bootstrap.sh'
        $run = Start-Loader (Set-LoaderSave $pinned $save) $dir
        $request = Complete-OneShotHttp $server 200 $harmless
        $result = Complete-Loader $run 'plain GET, harmless script'
        $request.RawUrl | Should -BeExactly '/assets/boot.sh'
        $request.Headers.ContainsKey('authorization') | Should -BeFalse
        $result.ExitCode | Should -Be 7 -Because $result.StdErr
        $result.StdOut | Should -BeExactly "harmless script ran as $save`n"
        $result.StdErr | Should -Match ([regex]::Escape("s3mount-bootstrap: running $save (SHA-256 $(Get-Sha256Hex $harmless), verified)"))
        [System.IO.File]::ReadAllBytes($save) | Should -Be $harmless
        (Get-Item -LiteralPath $save).UnixMode | Should -Be '-rwx------'
        "$save.new" | Should -Not -Exist
        $result.TmpLeft | Should -BeNullOrEmpty
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

    It 'refuses <What> with <Id>, and writes no file' -ForEach @(
        @{ What = '-Upload with an https:// -ScriptUri'; Id = 'S3MountParameterConflict'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format CloudConfig -ScriptUri https://assets.example.com/boot.sh -Upload -ScriptOutFile ./boot.sh -OutFile ./user-data } }
        @{ What = 'a loader format with neither -Upload nor -ScriptOutFile'; Id = 'S3MountParameterConflict'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format Mime -ScriptUri https://assets.example.com/boot.sh -OutFile ./user-data } }
        @{ What = 'a Shell loader with neither -Upload nor -ScriptOutFile'; Id = 'S3MountParameterConflict'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -ScriptUri s3://a-bucket/boot.sh -Region us-east-1 -OutFile ./user-data } }
        @{ What = '-Upload without -ScriptUri'; Id = 'S3MountParameterConflict'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format CloudConfig -Upload -OutFile ./user-data } }
        @{ What = '-ScriptOutFile without -ScriptUri'; Id = 'S3MountParameterConflict'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format CloudConfig -ScriptOutFile ./boot.sh -OutFile ./user-data } }
        @{ What = '-ScriptOutFile with -Format ParallelCluster'; Id = 'S3MountParameterConflict'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format ParallelCluster -ScriptUri s3://a-bucket/boot.sh -ScriptOutFile ./boot.sh -OutFile ./pcluster.sh } }
        @{ What = 'one file for -OutFile and -ScriptOutFile'; Id = 'S3MountParameterConflict'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format CloudConfig -ScriptUri https://assets.example.com/boot.sh -ScriptOutFile ./same -OutFile ./same } }
        @{ What = 'one file for -OutFile and -ScriptOutFile, spelled two ways'; Id = 'S3MountParameterConflict'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -ScriptUri https://assets.example.com/boot.sh -ScriptOutFile same -OutFile (Join-Path $PWD 'sub/../same') } }
        @{ What = 'an s3:// -ScriptUri with no Region known anywhere'; Id = 'S3MountScriptUriInvalid'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format CloudConfig -ScriptUri s3://a-bucket/boot.sh -ScriptOutFile ./boot.sh -OutFile ./user-data } }
        @{ What = 'an s3:// -ScriptUri with a -Region that is not one'; Id = 'S3MountScriptUriInvalid'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -ScriptUri s3://a-bucket/boot.sh -Region 'US East' -ScriptOutFile ./boot.sh -OutFile ./user-data } }
        @{ What = 'an s3:// -ScriptUri that names no object'; Id = 'S3MountScriptUriInvalid'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -ScriptUri s3://a-bucket/ -Region us-east-1 -ScriptOutFile ./boot.sh -OutFile ./user-data } }
        @{ What = 'an ftp:// -ScriptUri'; Id = 'S3MountScriptUriInvalid'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format Mime -ScriptUri ftp://assets.example.com/boot.sh -ScriptOutFile ./boot.sh -OutFile ./user-data } }
        @{ What = 'a plain http:// -ScriptUri off the loopback'; Id = 'S3MountScriptUriInvalid'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -ScriptUri http://assets.example.com/boot.sh -ScriptOutFile ./boot.sh -OutFile ./user-data } }
        @{ What = 'a plain http:// -EndpointUrl off the loopback'; Id = 'S3MountScriptUriInvalid'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -ScriptUri s3://a-bucket/boot.sh -Region us-east-1 -EndpointUrl http://s3.example.com -ScriptOutFile ./boot.sh -OutFile ./user-data } }
        @{ What = 'a user data file in a missing directory (before the script file is written)'; Id = 'S3MountOutFileFailed'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format CloudConfig -ScriptUri https://assets.example.com/boot.sh -ScriptOutFile ./boot.sh -OutFile ./missing/user-data } }
        @{ What = 'a script file in a missing directory'; Id = 'S3MountOutFileFailed'; Run = { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -Format CloudConfig -ScriptUri https://assets.example.com/boot.sh -ScriptOutFile ./missing/boot.sh -OutFile ./user-data } }
    ) {
        # No Region anywhere (the s3:// case refuses for it; the others do not read it).
        $saved = @{ AWS_REGION = $env:AWS_REGION; AWS_DEFAULT_REGION = $env:AWS_DEFAULT_REGION }
        $hadStored = Test-Path Variable:\global:StoredAWSRegion
        $stored = if ($hadStored) { $global:StoredAWSRegion }
        $dir = Join-Path $work ('refused-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $dir
        Push-Location $dir
        try {
            $env:AWS_REGION = $null
            $env:AWS_DEFAULT_REGION = $null
            Remove-Variable -Name StoredAWSRegion -Scope Global -ErrorAction SilentlyContinue
            { & $Run } | Should -Throw -ErrorId "$Id,*"
        }
        finally {
            Pop-Location
            foreach ($k in $saved.Keys) { [System.Environment]::SetEnvironmentVariable($k, $saved[$k]) }
            if ($hadStored) { $global:StoredAWSRegion = $stored }
        }
        Get-ChildItem -LiteralPath $dir -Force -Recurse | Should -BeNullOrEmpty
    }

    It 'says which -ScriptUri it cannot use, and how to give the Region' {
        $saved = @{ AWS_REGION = $env:AWS_REGION; AWS_DEFAULT_REGION = $env:AWS_DEFAULT_REGION }
        $hadStored = Test-Path Variable:\global:StoredAWSRegion
        $stored = if ($hadStored) { $global:StoredAWSRegion }
        try {
            $env:AWS_REGION = $null
            $env:AWS_DEFAULT_REGION = $null
            Remove-Variable -Name StoredAWSRegion -Scope Global -ErrorAction SilentlyContinue
            $thrown = $null
            try { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -ScriptUri s3://a-bucket/boot.sh -ScriptOutFile (Join-Path $work 'no-region.sh') -ErrorAction Stop } catch { $thrown = $_ }
            $thrown.Exception.Message | Should -Match 's3://a-bucket/boot\.sh'
            $thrown.Exception.Message | Should -Match '-Region'
            $thrown.TargetObject | Should -Be 's3://a-bucket/boot.sh'
            $thrown = $null
            try { Export-S3MountBootstrap -Bucket a-bucket -Path /mnt/a -ScriptUri ftp://assets.example.com/boot.sh -ScriptOutFile (Join-Path $work 'ftp.sh') -ErrorAction Stop } catch { $thrown = $_ }
            $thrown.Exception.Message | Should -Match "'ftp://assets\.example\.com/boot\.sh' is not where the nodes can download the bootstrap script from"
            Join-Path $work 'no-region.sh' | Should -Not -Exist
        }
        finally {
            foreach ($k in $saved.Keys) { [System.Environment]::SetEnvironmentVariable($k, $saved[$k]) }
            if ($hadStored) { $global:StoredAWSRegion = $stored }
        }
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

    It '-WhatIf with a loader writes neither the script (-ScriptOutFile) nor the user data (-OutFile), and says it would write both' {
        $dir = Join-Path $work 'whatif-loader'
        $null = New-Item -ItemType Directory -Path $dir
        $script = Join-Path $dir 'boot.sh'
        $userData = Join-Path $dir 'user-data.gz'
        $said = Invoke-FreshPwsh "Import-Module '$ModuleManifest'; Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -Format CloudConfig -Compress -ScriptUri https://assets.example.com/boot.sh -ScriptOutFile '$script' -OutFile '$userData' -WhatIf"
        ($said -join "`n") | Should -Match ([regex]::Escape("What if: Performing the operation ""Write bootstrap script (") + '[0-9,]+' + [regex]::Escape(" bytes) that the CloudConfig loader downloads"" on target ""$script"""))
        ($said -join "`n") | Should -Match ([regex]::Escape("on target ""$userData"""))
        Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -Format CloudConfig -Compress -ScriptUri https://assets.example.com/boot.sh -ScriptOutFile $script -OutFile $userData -WhatIf | Should -BeNullOrEmpty
        Get-ChildItem -LiteralPath $dir -Force | Should -BeNullOrEmpty
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
        $script:mounts4 = 1..4 | ForEach-Object { @{ Bucket = "data-$_"; Path = "/mnt/data$_"; ReadOnly = $true; AllowOther = $true; CacheDirectory = "/mnt/nvme/cache$_" } }
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

    It 'as a CloudConfig loader: uploads the script with AWSSDK.S3, and the loader downloads it path-style from -EndpointUrl, signed for -Region' {
        if (-not $s3) { Set-ItResult -Skipped -Because 'node and npm (s3rver) are not installed here'; return }
        $aws = @{ EndpointUrl = $s3.Endpoint; Region = 'us-east-1'; AccessKey = 'S3RVER'; SecretKey = 'not/in/the/artifact'; SessionToken = 'session/token/not/in/the/artifact' }
        $file = Join-Path $work 'uploaded-boot.sh'
        $b64 = $mounts4 | Export-S3MountBootstrap -Version 1.23.0 -Format CloudConfig -Compress -ScriptUri s3://cluster-assets/s3mount/boot.sh -Upload -ScriptOutFile $file @aws
        $bytes = [Convert]::FromBase64String($b64)
        $bytes.Length | Should -BeLessOrEqual 16384
        $downloaded = Join-Path $work 'downloaded-boot.sh'
        Invoke-WebRequest -Uri "$($s3.Endpoint)/cluster-assets/s3mount/boot.sh" -UseBasicParsing -OutFile $downloaded
        $uploaded = [System.IO.File]::ReadAllBytes($downloaded)
        Get-Sha256Hex $uploaded | Should -Be (Get-Sha256Hex ([System.IO.File]::ReadAllBytes($file)))
        $shell = $mounts4 | Export-S3MountBootstrap -Version 1.23.0 -WarningAction SilentlyContinue
        Get-Sha256Hex $uploaded | Should -Be (Get-Sha256Hex ([System.Text.Encoding]::UTF8.GetBytes($shell)))
        $uploaded.Length | Should -BeGreaterThan 16384
        $loader = Get-CarriedLoader CloudConfig $bytes -Compressed
        $loader | Should -Match "(?m)^S3L_URL='$([regex]::Escape($s3.Endpoint))/cluster-assets/s3mount/boot\.sh'$"
        $loader | Should -Match "(?m)^S3L_REGION='us-east-1'$"
        $loader | Should -Match "(?m)^S3L_SHA256='$(Get-Sha256Hex $uploaded)'$"
        # Neither the user data nor the script holds the session's keys (the nodes sign with their own).
        $document = [System.Text.Encoding]::UTF8.GetString([S3Mount.Engine.Bootstrap.BootstrapArtifact]::Gunzip($bytes))
        foreach ($text in $document, $shell) {
            $text | Should -Not -Match 'not/in/the/artifact'
            $text | Should -Not -Match 'S3RVER'
        }
    }

    It '-WhatIf with -Upload uploads nothing, and needs no credentials when -Region is given' {
        if (-not $s3) { Set-ItResult -Skipped -Because 'node and npm (s3rver) are not installed here'; return }
        $empty = Join-Path $work 'no-aws-config'
        # No credentials anywhere for the fresh process: no keys, no profiles, no instance role.
        $noAws = "foreach (`$k in 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_REGION', 'AWS_DEFAULT_REGION') { [System.Environment]::SetEnvironmentVariable(`$k, `$null) }; " +
            "`$env:AWS_SHARED_CREDENTIALS_FILE = '$empty/credentials'; `$env:AWS_CONFIG_FILE = '$empty/config'; `$env:AWS_EC2_METADATA_DISABLED = 'true'; "
        $said = Invoke-FreshPwsh ($noAws + "Import-Module '$ModuleManifest'; Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -Format CloudConfig -ScriptUri s3://cluster-assets/s3mount/whatif.sh -Upload -EndpointUrl $($s3.Endpoint) -Region us-east-1 -WhatIf | Out-Null")
        ($said -join "`n") | Should -Match ([regex]::Escape('What if: Performing the operation "Upload bootstrap script (') + '[0-9,]+' + [regex]::Escape(' bytes) that the CloudConfig loader downloads" on target "s3://cluster-assets/s3mount/whatif.sh"'))
        ($said -join "`n") | Should -Not -Match 'Credentials|Exception|Error'
        (Invoke-WebRequest -Uri "$($s3.Endpoint)/cluster-assets/s3mount/whatif.sh" -UseBasicParsing -SkipHttpErrorCheck).StatusCode | Should -Be 404
    }

    It 'a user data file that cannot be written stops the export before the upload' {
        if (-not $s3) { Set-ItResult -Skipped -Because 'node and npm (s3rver) are not installed here'; return }
        $aws = @{ EndpointUrl = $s3.Endpoint; Region = 'us-east-1'; AccessKey = 'S3RVER'; SecretKey = 'S3RVER' }
        { Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -Format Mime -ScriptUri s3://cluster-assets/s3mount/not-uploaded.sh -Upload @aws -OutFile (Join-Path $work 'missing/user-data') } | Should -Throw -ErrorId 'S3MountOutFileFailed,*'
        (Invoke-WebRequest -Uri "$($s3.Endpoint)/cluster-assets/s3mount/not-uploaded.sh" -UseBasicParsing -SkipHttpErrorCheck).StatusCode | Should -Be 404
    }

    It 'the loader refuses a script changed since the export: exit 1, the message on stderr and to the journal, nothing kept or run' {
        if (-not $s3) { Set-ItResult -Skipped -Because 'node and npm (s3rver) are not installed here'; return }
        $aws = @{ EndpointUrl = $s3.Endpoint; Region = 'us-east-1'; AccessKey = 'S3RVER'; SecretKey = 'S3RVER' }
        $target = 's3://cluster-assets/s3mount/changed.sh'
        $loader = $mounts4 | Export-S3MountBootstrap -Version 1.23.0 -ScriptUri $target -Upload @aws
        $loader | Should -Match "(?m)^S3L_URL='$([regex]::Escape($s3.Endpoint))/cluster-assets/s3mount/changed\.sh'$"
        $pinned = if ($loader -match "(?m)^S3L_SHA256='([0-9a-f]{64})'$") { $Matches[1] }
        # A later export of other mounts to the same key: the object is no longer the script this loader pins.
        $null = Export-S3MountBootstrap -Bucket other-bucket -Path /mnt/other -ScriptUri $target -Upload @aws
        $now = Join-Path $work 'changed-now.sh'
        Invoke-WebRequest -Uri "$($s3.Endpoint)/cluster-assets/s3mount/changed.sh" -UseBasicParsing -OutFile $now
        $nowBytes = [System.IO.File]::ReadAllBytes($now)
        Get-Sha256Hex $nowBytes | Should -Not -Be $pinned

        $dir = Join-Path $work 'changed-run'
        $save = Join-Path $dir 'save/bootstrap.sh'
        $result = Complete-Loader (Start-Loader (Set-LoaderSave $loader $save) $dir @{ AWS_ACCESS_KEY_ID = 'S3RVER'; AWS_SECRET_ACCESS_KEY = 'S3RVER' }) 'changed script, s3rver'
        $result.ExitCode | Should -Be 1
        $result.StdErr | Should -Match ([regex]::Escape("s3mount-bootstrap: FAILED: $target is not the script this user data was exported with (SHA-256 $(Get-Sha256Hex $nowBytes), $($nowBytes.Length) bytes; expected $pinned, "))
        $result.StdErr | Should -Match 'nothing was run'
        $result.StdErr | Should -Not -Match 'running '
        $result.StdOut | Should -BeNullOrEmpty
        $result.Journal | Should -Match ([regex]::Escape("-t s3mount-bootstrap -p user.err -- FAILED: $target is not the script this user data was exported with"))
        $result.TmpLeft | Should -BeNullOrEmpty
        $save | Should -Not -Exist
        "$save.new" | Should -Not -Exist
        Join-Path $dir 'save' | Should -Not -Exist

        # An access key S3 does not know: the loader says what S3 answered.
        $unknown = Complete-Loader (Start-Loader (Set-LoaderSave $loader $save) $dir @{ AWS_ACCESS_KEY_ID = 'AKIDNOTKNOWN'; AWS_SECRET_ACCESS_KEY = 'S3RVER' }) 'unknown access key, s3rver'
        $unknown.ExitCode | Should -Be 1
        $unknown.StdErr | Should -Match ([regex]::Escape("FAILED: could not download $target (HTTP 403, InvalidAccessKeyId); nothing was run."))
        $save | Should -Not -Exist
    }

    It 'without an s3:// package the artifact has no signed URL at all' {
        Export-S3MountBootstrap -Bucket my-bucket -Path /mnt/s3 -Version 1.23.0 -WarningAction SilentlyContinue | Should -Not -Match 'X-Amz-'
    }
}
