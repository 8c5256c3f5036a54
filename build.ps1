#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, packages and cleans the S3Mount module.
.DESCRIPTION
    'dotnet build' alone produces the loadable module in out/S3Mount (and lays out Pester and the test-only AWS SDK
    builds under .tools/), so this script is a thin wrapper. Test runs every xunit project and then the Pester suite in
    a fresh 'pwsh -NoProfile' against the built module, and prints one closing line over both:
    'N passed, N failed, N skipped'. It fails when any test fails, when Pester did not run, and (under CI=true) when
    anything was skipped.
.PARAMETER Task
    Build (default), Test, Package, Clean; several run in the order given.
.PARAMETER Configuration
    Debug (default, what 'dotnet build' makes) or Release.
.PARAMETER PesterPath
    Test only: the Pester files to run (default: every tests/pester/*.Tests.ps1).
.EXAMPLE
    ./build.ps1
    Builds out/S3Mount; then 'Import-Module ./S3Mount.psd1' works from the repository root.
.EXAMPLE
    ./build.ps1 -Task Test
    Builds, runs the xunit tests, then the Pester tests, and prints the closing line.
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package', 'Clean')]
    [string[]] $Task = @('Build'),

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug',

    [string[]] $PesterPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$solution = Join-Path $root 'S3Mount.slnx'
$moduleOut = Join-Path $root 'out/S3Mount'
$results = Join-Path $root 'out/test-results'
$pesterVersion = '5.9.1'

function Invoke-Native {
    param([string] $File, [string[]] $Arguments)
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE." }
}

# The pwsh that runs this script, as a command line: a dotnet-tool pwsh runs as 'dotnet pwsh.dll'.
function Get-PwshCommand {
    $pwsh = Get-Command -Name pwsh -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($pwsh) { return , @($pwsh.Source) }
    $process = [System.Environment]::ProcessPath
    if ((Split-Path -Leaf $process) -like 'dotnet*') { return , @($process, (Join-Path $PSHOME 'pwsh.dll')) }
    , @($process)
}

# Counts of every xunit project, read from the TRX files dotnet test wrote.
function Get-XunitCount {
    param([string] $Directory)
    $count = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0; Files = 0 }
    foreach ($file in Get-ChildItem -LiteralPath $Directory -Filter '*.trx' -ErrorAction SilentlyContinue) {
        $c = ([xml](Get-Content -LiteralPath $file.FullName -Raw)).TestRun.ResultSummary.Counters
        $count.Passed += [int]$c.passed
        $count.Failed += [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
        $count.Skipped += [int]$c.notExecuted
        $count.Files++
    }
    $count
}

foreach ($t in $Task) {
    switch ($t) {
        'Clean' {
            $targets = @(Join-Path $root 'out')
            $targets += Get-ChildItem -Path (Join-Path $root 'src'), (Join-Path $root 'tests'), (Join-Path $root 'bench') -Directory -Recurse -ErrorAction SilentlyContinue |
                Where-Object { $_.Name -in 'bin', 'obj' } | ForEach-Object FullName
            foreach ($p in $targets) {
                if (Test-Path -LiteralPath $p) { Remove-Item -LiteralPath $p -Recurse -Force }
            }
        }
        'Build' {
            Invoke-Native dotnet @('build', $solution, '-c', $Configuration, '-nologo')
            Write-Verbose "Module layout: $moduleOut"
        }
        'Package' {
            $version = (Import-PowerShellDataFile (Join-Path $root 'S3Mount.psd1')).ModuleVersion
            $package = Join-Path $root "out/package/S3Mount/$version"
            if (Test-Path -LiteralPath $package) { Remove-Item -LiteralPath $package -Recurse -Force }
            New-Item -ItemType Directory -Path $package -Force | Out-Null
            Copy-Item -Path (Join-Path $moduleOut '*') -Destination $package -Recurse
            Write-Output (Get-Item -LiteralPath $package)
        }
        'Test' {
            $ci = $env:CI -eq 'true'
            if (Test-Path -LiteralPath $results) { Remove-Item -LiteralPath $results -Recurse -Force }
            $xunitDir = Join-Path $results 'xunit'
            $null = New-Item -ItemType Directory -Path $xunitDir -Force

            # 1. The whole solution is built first: 'dotnet test' builds only the test projects and what they reference,
            #    and the Pester files need more (the fake SSM host, the module layout, .tools/). Then the xunit projects.
            Invoke-Native dotnet @('build', $solution, '-c', $Configuration, '-nologo')
            & dotnet test $solution -c $Configuration -nologo --no-build --logger 'trx' --results-directory $xunitDir
            $xunitExit = $LASTEXITCODE
            $xunit = Get-XunitCount -Directory $xunitDir

            # 2. Pester, in a fresh pwsh without profile, from .tools/pester (never an installed Pester).
            $pesterSummary = Join-Path $results 'pester.json'
            $pesterModules = Join-Path $root '.tools/pester'
            $paths = if ($PesterPath) { $PesterPath | ForEach-Object { (Resolve-Path -LiteralPath $_).Path } } else { @(Join-Path $root 'tests/pester') }
            $pathList = ($paths | ForEach-Object { "'" + ($_ -replace "'", "''") + "'" }) -join ', '
            $script = @"
`$ErrorActionPreference = 'Stop'
`$env:PSModulePath = '$($pesterModules -replace "'", "''")' + [System.IO.Path]::PathSeparator + `$env:PSModulePath
Import-Module Pester -RequiredVersion $pesterVersion
# The tests run with PowerShell's default preference, as a user's session has it.
`$ErrorActionPreference = 'Continue'
`$c = New-PesterConfiguration
`$c.Run.Path = @($pathList)
`$c.Run.PassThru = `$true
`$c.Output.Verbosity = 'Detailed'
`$c.TestResult.Enabled = `$true
`$c.TestResult.OutputFormat = 'NUnitXml'
`$c.TestResult.OutputPath = '$((Join-Path $results 'pester.xml') -replace "'", "''")'
`$r = Invoke-Pester -Configuration `$c
[ordered]@{ Result = `$r.Result; Passed = `$r.PassedCount; Failed = `$r.FailedCount; Skipped = `$r.SkippedCount; NotRun = `$r.NotRunCount
    FailedBlocks = `$r.FailedBlocksCount; FailedContainers = `$r.FailedContainersCount; Total = `$r.TotalCount } |
    ConvertTo-Json | Set-Content -LiteralPath '$($pesterSummary -replace "'", "''")'
"@
            $pwsh = Get-PwshCommand
            $pwshArgs = @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-Command', $script)
            & $pwsh[0] @pwshArgs
            $pester = if (Test-Path -LiteralPath $pesterSummary) { Get-Content -LiteralPath $pesterSummary -Raw | ConvertFrom-Json } else { $null }

            $problems = @()
            if ($xunitExit -ne 0) { $problems += "dotnet test exited with $xunitExit" }
            if ($xunit.Files -eq 0) { $problems += 'no xunit results were written' }
            if (-not $pester) { $problems += 'Pester did not run' }
            elseif ($pester.Total -eq 0) { $problems += 'Pester found no tests' }
            elseif ($pester.FailedBlocks + $pester.FailedContainers -gt 0) { $problems += "Pester: $($pester.FailedBlocks) blocks and $($pester.FailedContainers) files failed to set up" }
            $passed = $xunit.Passed + ($pester ? $pester.Passed : 0)
            $failed = $xunit.Failed + ($pester ? $pester.Failed : 0)
            $skipped = $xunit.Skipped + ($pester ? $pester.Skipped + $pester.NotRun : 0)
            if ($failed -gt 0) { $problems += "$failed tests failed" }
            if ($ci -and $skipped -gt 0) { $problems += "$skipped tests were skipped, and under CI=true nothing may be skipped" }

            Write-Host "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped ($($xunit.Files) projects)"
            if ($pester) { Write-Host "Pester: $($pester.Passed) passed, $($pester.Failed) failed, $($pester.Skipped + $pester.NotRun) skipped" }
            Write-Host "$passed passed, $failed failed, $skipped skipped"
            if ($problems) { throw "Test failed: $($problems -join '; ')." }
        }
    }
}
