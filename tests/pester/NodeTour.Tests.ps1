#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The module inside a real node: boots one lab node (tests/lab/lab.sh, no mount-s3 in it) with this pwsh, this Pester,
# the built module and the in-node suite bound in read-only, runs tests/pester/node/OneNodeTour.ps1 there as root in a
# fresh 'pwsh -NoProfile -NonInteractive', and reports every in-node test as a test of its own (name and message).
# Needs root; without root it skips with the reason, except under CI=true, where a lab that cannot start fails.

BeforeDiscovery {
    # The in-node tests, by name, from the suite's source (so a test that did not run in the node fails here).
    $innerFile = Join-Path $PSScriptRoot 'node' 'OneNodeTour.ps1'
    $parseErrors = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseFile($innerFile, [ref]$null, [ref]$parseErrors)
    if ($parseErrors) { throw "$innerFile does not parse: $($parseErrors -join '; ')" }
    $innerTests = @($ast.FindAll({ param($a) $a -is [System.Management.Automation.Language.CommandAst] -and $a.GetCommandName() -eq 'It' }, $true) |
        ForEach-Object { @{ Name = $_.CommandElements[1].SafeGetValue() } })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Shared.ps1')
}

Describe 'The module inside a real node: the README one-node tour in a booted lab node' {
    BeforeAll {
        $innerDir = Join-Path $PSScriptRoot 'node'
        $labScript = Join-Path $RepoRoot 'tests/lab/lab.sh'

        function Get-LabUnavailableReason {
            # Why the node lab cannot run on this machine (what S3Mount.Lab's NodeLab checks), or nothing.
            if (-not $IsLinux) { return 'the node lab needs Linux' }
            $uid = (& id -u).Trim()
            if ($uid -ne '0') { return "the node lab needs root (running as uid $uid)" }
            foreach ($tool in 'systemd-nspawn', 'debootstrap', 'nsenter') {
                if (-not (Get-Command $tool -CommandType Application -ErrorAction SilentlyContinue)) { return "$tool is not installed (bash .ci/setup)" }
            }
            if (-not (Test-Path -LiteralPath /dev/fuse)) { return '/dev/fuse is missing (FUSE is not available)' }
        }

        function Invoke-Lab {
            # lab.sh for this test's own lab; returns its stdout lines, or throws with its output.
            param([Parameter(Mandatory)] [string[]] $Arguments)
            $out = & $labScript @Arguments 2>&1
            if ($LASTEXITCODE -ne 0) { throw "lab.sh $($Arguments -join ' ') exited with $LASTEXITCODE`:`n$($out -join "`n")" }
            @($out | Where-Object { $_ -is [string] })
        }

        $skipReason = Get-LabUnavailableReason
        if ($skipReason -and $env:CI -ne 'true') { return }
        if ($skipReason) { throw "The node lab cannot start here: $skipReason. Under CI=true this fails instead of skipping." }

        # A lab of our own (destroyed in AfterAll, or by its watchdog as soon as this pwsh dies), a node without mount-s3.
        $savedLabEnv = @{}
        $labEnv = @{
            S3MOUNT_LAB_ID      = "$(if ($env:S3MOUNT_LAB_ID) { $env:S3MOUNT_LAB_ID } else { 'pester' })-tour-$PID"
            S3MOUNT_LAB_OWNER   = "$PID"
            S3MOUNT_LAB_STANDIN = '0'
        }
        foreach ($k in $labEnv.Keys) {
            $savedLabEnv[$k] = [System.Environment]::GetEnvironmentVariable($k)
            [System.Environment]::SetEnvironmentVariable($k, $labEnv[$k])
        }

        # What the node gets, read-only: this pwsh (and the .NET it runs on), this Pester, the built module in a folder of
        # the node's $env:PSModulePath (the README's install), and the in-node suite.
        $version = (Import-PowerShellDataFile $ModuleManifest).ModuleVersion
        $process = [System.Environment]::ProcessPath
        $binds = [ordered]@{}
        if ((Split-Path -Leaf $process) -like 'dotnet*') {
            $binds['/opt/s3mount-test/dotnet'] = Split-Path -Parent (& realpath -e $process)
            $pwshInNode = @('/opt/s3mount-test/dotnet/dotnet', '/opt/s3mount-test/pwsh/pwsh.dll')
        }
        else {
            $pwshInNode = @('/opt/s3mount-test/pwsh/pwsh')
        }
        $binds['/opt/s3mount-test/pwsh'] = $PSHOME
        $binds['/opt/s3mount-test/pester'] = Split-Path -Parent (Split-Path -Parent (Get-Module Pester).ModuleBase)
        $binds["/usr/local/share/powershell/Modules/S3Mount/$version"] = Split-Path -Parent $ModuleManifest
        $binds['/opt/s3mount-test/tests'] = $innerDir
        $bindArgs = @($binds.Keys | ForEach-Object { "--bind-ro=$($binds[$_]):$_" })

        function Invoke-InNode {
            # A fresh pwsh in the node, as root, with the node's own environment plus these variables; returns output and exit.
            param([Parameter(Mandatory)] [string[]] $Arguments, [hashtable] $Environment = @{}, [int] $TimeoutSeconds = 600)
            $envArgs = @('DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1', 'POWERSHELL_TELEMETRY_OPTOUT=1', 'POWERSHELL_UPDATECHECK=Off', 'DOTNET_NOLOGO=1') +
                @($Environment.Keys | ForEach-Object { "$_=$($Environment[$_])" })
            $sw = [System.Diagnostics.Stopwatch]::StartNew()
            $out = & $labScript exec tour timeout -k 5 $TimeoutSeconds env @envArgs @pwshInNode -NoProfile -NonInteractive @Arguments 2>&1
            [pscustomobject]@{ Output = @($out | ForEach-Object { "$_" }); ExitCode = $LASTEXITCODE; Seconds = $sw.Elapsed.TotalSeconds }
        }

        $timings = [ordered]@{}
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $null = Invoke-Lab destroy-all # what an interrupted earlier run of this session left (this lab id only)
        $null = Invoke-Lab s3, start
        $pkg = @{}
        foreach ($line in Invoke-Lab pkg, serve) { $k, $v = $line -split '=', 2; $pkg[$k] = $v }
        $timings['lab servers'] = $sw.Elapsed.TotalSeconds
        $sw.Restart()
        $null = Invoke-Lab (@('up') + $bindArgs + @('tour'))
        $timings['node up'] = $sw.Elapsed.TotalSeconds

        # pwsh itself first, so a node that cannot run it says so plainly.
        $probe = Invoke-InNode -Arguments '-Command', 'Import-Module S3Mount -ErrorAction Stop; "$($PSVersionTable.PSVersion) $((Get-Module S3Mount).Version)"'
        $timings['pwsh start + import in the node'] = $probe.Seconds
        if ($probe.ExitCode -ne 0) { throw "pwsh did not run in the node (exit $($probe.ExitCode)):`n$($probe.Output -join "`n")" }

        $run = Invoke-InNode -Environment @{ S3MOUNT_TOUR_RELEASE_URL = $pkg['base']; S3MOUNT_TOUR_FINGERPRINT = $pkg['fingerprint'] } -Arguments @(
            '-File', '/opt/s3mount-test/tests/Invoke-NodeSuite.ps1', '-PesterRoot', '/opt/s3mount-test/pester',
            '-PesterVersion', "$((Get-Module Pester).Version)", '-ResultPath', '/root/tour-results.json')
        $timings['in-node suite (pwsh + Pester + tests)'] = $run.Seconds
        $run.Output | ForEach-Object { Write-Host "    node | $_" }
        $resultsFile = Join-Path ([System.IO.Path]::GetTempPath()) "s3mount-tour-$PID.json"
        $results = $null
        try {
            $null = Invoke-Lab cp-out, tour, /root/tour-results.json, $resultsFile
            $results = Get-Content -LiteralPath $resultsFile -Raw | ConvertFrom-Json
        }
        catch {
            Write-Host "    no results from the node: $_"
        }
        finally {
            Remove-Item -LiteralPath $resultsFile -ErrorAction SilentlyContinue
        }
        $timings.GetEnumerator() | ForEach-Object { Write-Host ("    TIMING {0}: {1:0.0} s" -f $_.Key, $_.Value) }
    }

    AfterAll {
        if ($savedLabEnv) {
            try { $null = Invoke-Lab destroy-all }
            finally {
                foreach ($k in $savedLabEnv.Keys) { [System.Environment]::SetEnvironmentVariable($k, $savedLabEnv[$k]) }
            }
        }
    }

    It 'runs pwsh and the in-node suite there, and every in-node test reports back' -ForEach @(@{ Expected = @($innerTests.Name) }) {
        if ($skipReason) { Set-ItResult -Skipped -Because $skipReason }
        $probe.Output[-1] | Should -Match '^7\.\d+\.\d+ \d+\.\d+\.\d+$'
        $run.ExitCode | Should -Be 0 -Because ($run.Output | Select-Object -Last 20 | Out-String)
        $results | Should -Not -BeNullOrEmpty -Because 'the in-node run writes its results'
        @($results.Errors) | Should -BeNullOrEmpty -Because 'no setup block failed in the node'
        (@($results.Tests.Name | Sort-Object) -join "`n") | Should -Be (@($Expected | Sort-Object) -join "`n")
    }

    It 'in the node: <Name>' -ForEach $innerTests {
        if ($skipReason) { Set-ItResult -Skipped -Because $skipReason }
        $test = $results.Tests | Where-Object Name -EQ $Name
        $setup = if ($results.Errors) { "`nIn-node setup errors:`n$($results.Errors -join "`n")" } else { '' }
        if (-not $test) { throw "This test did not run in the node.$setup" }
        if ($test.Result -ne 'Passed') { throw "$($test.Result) in the node:`n$(@($test.Errors) -join "`n")$setup" }
    }
}

Describe 'The README one-node tour and the in-node suite stay in step' {
    It 'every command of the README tour appears in the in-node suite as the README writes it' {
        $readme = Get-Content -LiteralPath (Join-Path $RepoRoot 'README.md') -Raw
        $section = [regex]::Match($readme, '(?ms)^## A tour: one node\s*\n```powershell\n(.*?)\n```')
        $section.Success | Should -BeTrue -Because 'README.md has the section "A tour: one node" with a powershell block'
        $commands = @($section.Groups[1].Value -split "`n" | ForEach-Object { ($_ -replace '#.*$', '').Trim() } | Where-Object { $_ })
        $commands.Count | Should -BeGreaterThan 0
        $suite = Get-Content -LiteralPath (Join-Path $PSScriptRoot 'node' 'OneNodeTour.ps1') -Raw
        # Each as a whole statement: after a line start, '=', '{', '(' or ';', and ending the statement.
        $missing = @($commands | Where-Object { $suite -notmatch "(?m)(^|[={(;])\s*$([regex]::Escape($_))\s*($|[})|;])" })
        $missing | Should -BeNullOrEmpty -Because 'every command of the README tour must run in the node as the README writes it (tests/pester/node/OneNodeTour.ps1)'
    }
}
