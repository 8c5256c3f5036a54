#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# Every command the README shows runs in a test. Each code block of README.md is preceded by a marker
# <!-- readme-test: KIND --> that says where it runs:
#   main-job  here, verbatim, in a fresh clone of this repository (it builds the module there)
#   image     here, verbatim, in a fresh pwsh in an empty directory (offline image commands)
#   node      inside a booted lab node: tests/pester/NodeTour.Tests.ps1 runs every command of it (verbatim)
#   fleet     against lab nodes behind the fake SSM: tests/pester/ReadmeFleet.Tests.ps1 runs it verbatim
#   setup/ci  what .ci/run runs on a clean clone (checked here to be exactly the README's commands)
#   map-file, map, map-transcript  the mount map tour: tests/pester/ReadmeMap.Tests.ps1
# Other kinds are declared in $Runners below by the files that run them.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'ReadmeBlocks.ps1')
    $blocks = Get-ReadmeBlock
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'ReadmeBlocks.ps1')
    $blocks = Get-ReadmeBlock
    . (Join-Path $PSScriptRoot 'Shared.ps1')
    $readmePath = Join-Path $RepoRoot 'README.md'
    # Kinds run by other files, and the file that runs each.
    $Runners = @{
        node               = 'tests/pester/NodeTour.Tests.ps1'
        fleet              = 'tests/pester/ReadmeFleet.Tests.ps1'
        'map-file'         = 'tests/pester/ReadmeMap.Tests.ps1'
        map                = 'tests/pester/ReadmeMap.Tests.ps1'
        'map-transcript'   = 'tests/pester/ReadmeMap.Tests.ps1'
        'bootstrap'        = 'tests/pester/ReadmeBootstrap.Tests.ps1'
        'bootstrap-output' = 'tests/pester/ReadmeBootstrap.Tests.ps1'
        'bootstrap-recipe' = 'tests/pester/ReadmeBootstrap.Tests.ps1'
        iam                = 'tests/pester/IamPolicy.Tests.ps1'
        throughput         = 'tests/pester/Throughput.Tests.ps1'
    }
    $Here = 'main-job', 'image', 'setup', 'ci'
    $onPath = Get-Command pwsh -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    $pwshDir = if ($onPath) { Split-Path $onPath.Source } else { Join-Path $RepoRoot '.tools/pwsh' }
}

Describe 'README code blocks' {
    It 'the block at README line <Line> says where it runs, and something runs it' -ForEach $blocks {
        $Kind | Should -Not -BeNullOrEmpty -Because "every code block of the README runs in a test: mark it with <!-- readme-test: KIND -->"
        if ($Kind -notin $Here) {
            $Runners.Keys | Should -Contain $Kind
            Join-Path $RepoRoot $Runners[$Kind] | Should -Exist
        }
    }

    It 'setup and ci blocks are what .ci/run runs' {
        $ci = Get-Content -Raw -LiteralPath (Join-Path $RepoRoot '.ci/run')
        $ci | Should -Match ([regex]::Escape('bash .ci/setup'))
        $ci | Should -Match ([regex]::Escape('export PATH="$PWD/.tools/pwsh:$PATH"'))
        foreach ($b in $blocks | Where-Object Kind -EQ 'ci') {
            foreach ($line in $b.Code -split "`n" | Where-Object { $_.Trim() }) {
                $ci | Should -Match ([regex]::Escape($line.Trim())) -Because '.ci/run must call the README''s test command'
            }
        }
    }
}

Describe 'The README main job, verbatim, on a fresh clone' -Skip:(-not $IsLinux) {
    BeforeAll {
        $block = @($blocks | Where-Object Kind -EQ 'main-job')
        $clone = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-clone-' + [guid]::NewGuid().ToString('N'))
    }

    AfterAll {
        Remove-Item -LiteralPath $clone -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'builds the module from a clone of HEAD and creates the mount service in out/image' {
        $block.Count | Should -Be 1
        $line = ($block[0].Code -split "`n" | Where-Object { $_ -match '^pwsh ' })
        @($line).Count | Should -Be 1
        & git clone --quiet --no-hardlinks $RepoRoot $clone 2>&1 | Out-Null
        $LASTEXITCODE | Should -Be 0
        # A fresh machine after .ci/setup: pwsh on PATH (as the README's setup block puts it there); nothing built yet.
        Join-Path $clone 'out' | Should -Not -Exist
        $env:S3MOUNT_CLONE_LINE = $line
        try {
            $out = & bash -c "cd '$clone' && export PATH='$pwshDir':`"`$PATH`" && eval `"`$S3MOUNT_CLONE_LINE`"" 2>&1
        }
        finally { Remove-Item Env:S3MOUNT_CLONE_LINE }
        $text = $out | Out-String
        $LASTEXITCODE | Should -Be 0 -Because $text
        $text | Should -Match 'Build succeeded'
        $text | Should -Match '/mnt/s3'
        $text | Should -Match 's3://my-bucket/'
        Join-Path $clone 'out/image/etc/systemd/system/mountpoint-s3-17a82347.service' | Should -Exist
        (Get-Item -LiteralPath (Join-Path $clone 'out/image/etc/systemd/system/remote-fs.target.wants/mountpoint-s3-17a82347.service')).LinkType | Should -Be 'SymbolicLink'
        Join-Path $clone 'out/image/mnt/s3' | Should -Exist
        Join-Path $clone 'out/image/etc/systemd/system/s3mount-health-17a82347.timer' | Should -Exist -Because 'the README names the health check it writes'
        Get-Content -Raw (Join-Path $clone 'out/image/etc/systemd/system/mountpoint-s3-17a82347.service') | Should -Match 'ExecStart=/usr/bin/mount-s3 --read-only --allow-other my-bucket /mnt/s3'
    }
}

Describe 'The README image tour, verbatim' -Skip:(-not $IsLinux) {
    BeforeAll {
        $block = @($blocks | Where-Object Kind -EQ 'image')
        $dir = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-readme-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $dir
    }

    AfterAll {
        Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'runs without an error, and leaves the image as it found it' {
        $block.Count | Should -Be 1
        $code = $block[0].Code
        $script = @"
`$ErrorActionPreference = 'Continue'
Set-Location '$dir'
Import-Module '$ModuleManifest'
`$Error.Clear()
$code
'ERRORS ' + `$Error.Count
`$Error | ForEach-Object { 'ERROR ' + `$_.FullyQualifiedErrorId + ': ' + `$_ }
'LEFT ' + @(Get-S3MountService -Root ./out/ami-root).Count
"@
        $out = Invoke-FreshPwsh $script | Out-String
        $out | Should -Match 'ERRORS 0' -Because $out
        $out | Should -Match 'LEFT 0'
        $out | Should -Match 'Options\s+: --read-only --allow-other'
        Join-Path $dir 'out/ami-root/fsx/ref' | Should -Exist
    }
}

Describe 'The README one-node tour runs in the in-node suite' {
    It 'every command of it appears, verbatim, in tests/pester/node/OneNodeTour.ps1' {
        $suite = Get-Content -Raw -LiteralPath (Join-Path $RepoRoot 'tests/pester/node/OneNodeTour.ps1')
        foreach ($b in $blocks | Where-Object Kind -EQ 'node') {
            foreach ($line in $b.Code -split "`n" | Where-Object { $_.Trim() }) {
                $command = ($line -replace '\s+#.*$', '').Trim()
                $suite | Should -Match ([regex]::Escape($command))
            }
        }
    }
}
